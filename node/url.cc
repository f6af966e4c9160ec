#include "node/url.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::node {
namespace {

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid URL \"", text, "\": ", why));
}

}  // namespace

std::string Url::HostPort() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

std::string Url::ToString() const { return absl::StrCat(scheme, "://", HostPort()); }

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  Url url;
  absl::string_view rest = text;
  size_t scheme_end = rest.find("://");
  if (scheme_end == absl::string_view::npos) return Invalid(text, "missing scheme (http://)");
  url.scheme = std::string(rest.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return Invalid(text, "URL scheme must be http or https");
  }
  rest.remove_prefix(scheme_end + 3);
  absl::ConsumeSuffix(&rest, "/");  // etcd accepts a trailing slash
  if (rest.find_first_of("/?#@") != absl::string_view::npos) {
    return Invalid(text, "URL must not have a path, query, fragment or user info");
  }
  absl::string_view port_text;
  if (absl::ConsumePrefix(&rest, "[")) {  // [ipv6]:port
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return Invalid(text, "unterminated IPv6 address");
    url.host = std::string(rest.substr(0, close));
    rest.remove_prefix(close + 1);
    if (!absl::ConsumePrefix(&rest, ":")) return Invalid(text, "missing port");
    port_text = rest;
  } else {
    size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return Invalid(text, "missing port");
    url.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    if (url.host.find(':') != std::string::npos) {
      return Invalid(text, "IPv6 host must be in brackets");
    }
  }
  if (url.host.empty()) return Invalid(text, "missing host");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
    return Invalid(text, "port must be a number in 1..65535");
  }
  url.port = static_cast<int>(port);
  return url;
}

absl::Status CheckBindable(const Url& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  std::string port = std::to_string(url.port);
  int resolved = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &addresses);
  if (resolved != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen tcp ", url.HostPort(), ": ", gai_strerror(resolved)));
  }
  absl::Status status = absl::OkStatus();
  for (addrinfo* a = addresses; a != nullptr && status.ok(); a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as servers bind
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      status = absl::UnavailableError(
          absl::StrCat("listen tcp ", url.HostPort(), ": bind: ", std::strerror(errno)));
    }
    close(fd);
  }
  freeaddrinfo(addresses);
  return status;
}

absl::StatusOr<std::vector<Url>> ParseUrlList(absl::string_view text) {
  std::vector<Url> urls;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    absl::StatusOr<Url> url = ParseUrl(absl::StripAsciiWhitespace(part));
    if (!url.ok()) return url.status();
    urls.push_back(*std::move(url));
  }
  if (urls.empty()) return absl::InvalidArgumentError("empty URL list");
  return urls;
}

}  // namespace keel::node
