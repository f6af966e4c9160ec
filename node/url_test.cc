#include "node/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace keel::node {
namespace {

TEST(UrlTest, ParsesHostAndPort) {
  absl::StatusOr<Url> url = ParseUrl("http://127.0.0.1:2379");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 2379);
  EXPECT_EQ(url->HostPort(), "127.0.0.1:2379");
  EXPECT_EQ(url->ToString(), "http://127.0.0.1:2379");
}

TEST(UrlTest, AcceptsTrailingSlashAndBracketedIpv6) {
  absl::StatusOr<Url> url = ParseUrl("http://[::1]:2380/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 2380);
  EXPECT_EQ(url->HostPort(), "[::1]:2380");
}

TEST(UrlTest, RejectsMalformedUrls) {
  for (const char* bad :
       {"127.0.0.1:2379", "ftp://a:1", "http://a", "http://:1", "http://a:0", "http://a:65536",
        "http://a:x", "http://a:1/path", "http://::1:2", "http://[::1:2"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

TEST(UrlTest, ParsesCommaSeparatedLists) {
  absl::StatusOr<std::vector<Url>> urls = ParseUrlList("http://a:1, http://b:2");
  ASSERT_TRUE(urls.ok()) << urls.status();
  ASSERT_EQ(urls->size(), 2u);
  EXPECT_EQ((*urls)[1].host, "b");
  EXPECT_FALSE(ParseUrlList("http://a:1,").ok());
}

}  // namespace
}  // namespace keel::node

namespace keel::node {
namespace {

TEST(CheckBindableTest, ReportsABusyPortInGoWords) {
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  Url url{"http", "127.0.0.1", ntohs(address.sin_port)};

  absl::Status busy = CheckBindable(url);
  EXPECT_EQ(busy.message(), "listen tcp " + url.HostPort() + ": bind: Address already in use");
  close(holder);
  EXPECT_TRUE(CheckBindable(url).ok()) << "a released port is bindable again";
}

}  // namespace
}  // namespace keel::node
