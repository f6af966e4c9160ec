// TlsTerminator end to end with real gRPC on both sides: a TLS client reaches a gRPC server
// that listens nowhere (ClientListener -> TlsTerminator -> AddInsecureChannelFromFd), and
// the handler sees the verified client certificate's CN through VerifiedCommonName, which
// proves gRPC 1.51's "fd:N" peer naming that client_identity.h relies on. Refusals: no
// client certificate, one from another CA, plaintext gRPC.
#include "node/tls_terminator.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_posix.h"
#include "gtest/gtest.h"
#include "node/client_identity.h"
#include "node/client_listener.h"

namespace keel::node {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// openssl CLI: a CA, a server certificate for 127.0.0.1, a client "alice" from the CA and
// a client "mallory" from another CA.
class Certs {
 public:
  Certs() : dir_(absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                              "/tls_terminator_test")) {
    Sh(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", dir_));
    Sh("printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext");
    for (const char* ca : {"ca", "other"}) {
      Sh(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                      "-keyout ", ca, ".key -out ", ca, ".pem -days 2 -subj /CN=", ca));
    }
    Leaf("server", "server", "ca");
    Leaf("alice", "alice", "ca");
    Leaf("mallory", "mallory", "other");
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  void Sh(const std::string& command) {
    const std::string full = absl::StrCat("cd ", dir_, " 2>/dev/null; ", command, " 2>/dev/null");
    ASSERT_EQ(std::system(full.c_str()), 0) << command;
  }
  void Leaf(const std::string& name, const std::string& cn, const std::string& ca) {
    Sh(absl::StrCat("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ",
                    name, ".key -out ", name, ".csr -subj /CN=", cn));
    Sh(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                    ".key -CAcreateserial -out ", name, ".pem -days 2 -extfile ext"));
  }
  const std::string dir_;
};

// Answers every method with the caller's verified Common Name.
class WhoAmI final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(grpc::GenericCallbackServerContext* ctx) : ctx_(ctx) { StartRead(&in_); }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        const std::string name = VerifiedCommonName(*ctx_);
        grpc::Slice slice(name);
        out_ = grpc::ByteBuffer(&slice, 1);
        StartWrite(&out_);
      }
      void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }

     private:
      grpc::GenericCallbackServerContext* ctx_;
      grpc::ByteBuffer in_, out_;
    };
    return new Reactor(ctx);
  }
};

class TlsTerminatorTest : public testing::Test {
 protected:
  void SetUp() override {
    env::TlsConfig config;
    config.cert_file = certs_.path("server.pem");
    config.key_file = certs_.path("server.key");
    config.trusted_ca_file = certs_.path("ca.pem");
    config.client_cert_auth = true;
    config.alpn_h2_http11 = true;
    auto context = env::TlsContext::Create(config, env::TlsContext::Role::kServer);
    ASSERT_TRUE(context.ok()) << context.status();
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto listener = ClientListener::Create({Url{"https", "127.0.0.1", 0}}, {});
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
    grpc::Server* server = server_.get();
    terminator_ = std::make_unique<TlsTerminator>(
        *context, TlsTerminator::Options(),
        [server](int fd) { grpc::AddInsecureChannelFromFd(server, fd); },
        [](int fd) { ::close(fd); });
    TlsTerminator* terminator = terminator_.get();
    listener_->Start(nullptr, nullptr, [terminator](int fd) { terminator->Serve(fd); });
  }
  void TearDown() override {
    if (listener_) listener_->Stop();
    if (terminator_) terminator_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // One call; returns the answer, or "error: <code>".
  std::string Call(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", listener_->ports()[0]),
                                       credentials);
    grpc::GenericStub stub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice slice(std::string("?"));
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&ctx, "/keel.Test/WhoAmI", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = s;
                     done.Notify();
                   });
    done.WaitForNotification();
    if (!status.ok()) return absl::StrCat("error: ", status.error_code());
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string out;
    for (const auto& s : slices) out += std::string(s.begin(), s.end());
    return out;
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(certs_.path("ca.pem"));
    if (!client.empty()) {
      options.pem_cert_chain = Read(certs_.path(client + ".pem"));
      options.pem_private_key = Read(certs_.path(client + ".key"));
    }
    return grpc::SslCredentials(options);
  }

  Certs certs_;
  WhoAmI service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ClientListener> listener_;
  std::unique_ptr<TlsTerminator> terminator_;
};

TEST_F(TlsTerminatorTest, VerifiedClientReachesGrpcAndIsNamedByItsCertificate) {
  EXPECT_EQ(Call(Tls("alice")), "alice");
  EXPECT_EQ(Call(Tls("alice")), "alice");  // a second connection, a fresh relay
}

TEST_F(TlsTerminatorTest, RefusesMissingWrongCaAndPlaintextClients) {
  const std::string unavailable = absl::StrCat("error: ", grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(Tls("")), unavailable);
  EXPECT_EQ(Call(Tls("mallory")), unavailable);
  EXPECT_EQ(Call(grpc::InsecureChannelCredentials()), unavailable);
  EXPECT_EQ(Call(Tls("alice")), "alice");  // still serving after the refusals
}

TEST(ClientIdentityTest, PeerStringsOtherThanAPublishedFdHaveNoName) {
  PublishCommonName(12345, 7, "bob");
  EXPECT_EQ(VerifiedCommonNameOfPeer("fd:12345"), "bob");
  ForgetCommonName(12345, 8);  // another relay's token: ignored
  EXPECT_EQ(VerifiedCommonNameOfPeer("fd:12345"), "bob");
  ForgetCommonName(12345, 7);
  EXPECT_EQ(VerifiedCommonNameOfPeer("fd:12345"), "");
  EXPECT_EQ(VerifiedCommonNameOfPeer("ipv4:127.0.0.1:5000"), "");
}

}  // namespace
}  // namespace keel::node
