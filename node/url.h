// The URLs keeld's flags take (etcd's --listen-client-urls and friends): scheme://host:port.
// Only http is served today; https is parsed and refused in one place (ParseListenUrl) so
// that TLS can be added without touching the callers.
#ifndef KEEL_NODE_URL_H_
#define KEEL_NODE_URL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::node {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written: name, IPv4, or IPv6 without brackets
  int port = 0;        // 1..65535

  // "host:port", with brackets around an IPv6 host: what gRPC and sockets take.
  std::string HostPort() const;
  // The URL as etcd prints it: scheme://host:port.
  std::string ToString() const;
};

// Parses "http://host:port". The port is required (etcd requires it for listen URLs);
// paths, queries and user info are refused, since etcd ignores or rejects them too.
absl::StatusOr<Url> ParseUrl(absl::string_view text);
// Binds (and releases) a TCP socket on `url`'s host and port, so that a busy port is
// reported before any server starts, in Go's words: "listen tcp 127.0.0.1:2379: bind:
// address already in use". OK when the port is free.
absl::Status CheckBindable(const Url& url);

// A comma-separated list, at least one entry.
absl::StatusOr<std::vector<Url>> ParseUrlList(absl::string_view text);

}  // namespace keel::node

#endif  // KEEL_NODE_URL_H_
