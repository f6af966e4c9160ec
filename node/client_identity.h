// The verified TLS client certificate behind a gRPC call: the seam for etcd's rule that,
// with --client-cert-auth, a request without a token is made by the user named by its
// certificate's Common Name (etcd 3.4 AuthStore.AuthInfoFromTLS).
//
// How it works: TlsTerminator (tls_terminator.h) terminates TLS and hands gRPC a plaintext
// socketpair end with AddInsecureChannelFromFd; gRPC 1.51 names such a connection's peer
// "fd:<N>" (N = that fd). While the relay lives, it publishes N -> Common Name here; the
// fd cannot be reused before gRPC closes it, and gRPC closes it only after every call on
// the connection ended, so a call never sees another connection's name.
//
// keeld passes it to the gRPC services as their CommonNameFn (grpc/caller.h) when
// --client-cert-auth is on; a request without a token is then made by that user.
#ifndef KEEL_NODE_CLIENT_IDENTITY_H_
#define KEEL_NODE_CLIENT_IDENTITY_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace grpc {
class ServerContextBase;
}

namespace keel::node {

// The Common Name of the verified client certificate of the connection `context` arrived
// on; empty for plaintext connections, TLS without a client certificate, or a certificate
// without a CN.
std::string VerifiedCommonName(const grpc::ServerContextBase& context);
// The same from gRPC's peer string ("fd:12").
std::string VerifiedCommonNameOfPeer(std::string_view grpc_peer);

// Registry used by TlsTerminator. `token` identifies the relay, so that a late Forget of
// an fd number already reused by a newer connection does nothing.
void PublishCommonName(int fd, uint64_t token, std::string common_name);
void ForgetCommonName(int fd, uint64_t token);

}  // namespace keel::node

#endif  // KEEL_NODE_CLIENT_IDENTITY_H_
