// TcpTransport over mutual TLS (Options::tls_server/tls_client): messages flow both ways
// and control queries are answered over TLS; a peer whose certificate comes from another
// CA is refused (nothing delivered, unreachable reported); a plaintext query to a TLS
// listener fails. Certificates are made with the openssl CLI in the test's temp dir.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "env/posix_loop.h"
#include "env/tcp_transport.h"
#include "env/tls.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

class Recorder final : public TransportHandler {
 public:
  void OnMessage(uint64_t from, std::string payload) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back(absl::StrCat(from, ":", payload));
  }
  void OnPeerUnreachable(uint64_t peer) override {
    absl::MutexLock lock(&mu_);
    unreachable_++;
  }
  bool WaitFor(size_t messages, size_t unreachable) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return messages_.size() >= messages && unreachable_ >= unreachable;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
  }
  std::vector<std::string> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> messages_;
  size_t unreachable_ = 0;
};

std::string Dir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/tcp_transport_tls_test");
}

void Sh(const std::string& command) {
  const std::string full = absl::StrCat("cd ", Dir(), " && ", command, " 2>/dev/null");
  ASSERT_EQ(std::system(full.c_str()), 0) << command;
}

// ca.pem + a.pem, b.pem (from ca) and evil.pem (from other.pem), all for 127.0.0.1.
void MakeCerts() {
  ASSERT_EQ(std::system(absl::StrCat("rm -rf ", Dir(), " && mkdir -p ", Dir()).c_str()), 0);
  Sh("printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext");
  for (const char* ca : {"ca", "other"}) {
    Sh(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ",
                    ca, ".key -out ", ca, ".pem -days 2 -subj /CN=", ca));
  }
  for (auto [name, ca] : {std::pair{"a", "ca"}, {"b", "ca"}, {"evil", "other"}}) {
    Sh(absl::StrCat("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ",
                    name, ".key -out ", name, ".csr -subj /CN=", name));
    Sh(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                    ".key -CAcreateserial -out ", name, ".pem -days 2 -extfile ext"));
  }
}

std::shared_ptr<const TlsContext> Context(const std::string& name, TlsContext::Role role) {
  TlsConfig config;
  config.cert_file = Dir() + "/" + name + ".pem";
  config.key_file = Dir() + "/" + name + ".key";
  config.trusted_ca_file = Dir() + "/ca.pem";
  config.client_cert_auth = true;
  auto context = TlsContext::Create(config, role);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

struct Node {
  Node(PosixLoop* loop, uint64_t id, const std::string& cert) {
    TcpTransport::Options options;
    options.self_id = id;
    options.tls_server = Context(cert, TlsContext::Role::kServer);
    options.tls_client = Context(cert, TlsContext::Role::kClient);
    auto created = TcpTransport::Create(loop, options);
    EXPECT_TRUE(created.ok()) << created.status();
    transport = *std::move(created);
    transport->SetHandler(&recorder);
  }
  Recorder recorder;
  std::unique_ptr<TcpTransport> transport;
};

void OnLoop(PosixLoop* loop, absl::AnyInvocable<void() &&> fn) {
  absl::Notification done;
  loop->Post([&] {
    std::move(fn)();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
}

TEST(TcpTransportTlsTest, MutualTlsCarriesMessagesAndQueriesAndRefusesAWrongCaPeer) {
  MakeCerts();
  std::unique_ptr<PosixLoop> loop = *PosixLoop::Create();
  Node a(loop.get(), 1, "a");
  Node b(loop.get(), 2, "b");
  Node evil(loop.get(), 3, "evil");
  b.transport->SetQueryHandler([](std::string request, TcpTransport::QueryReply reply) {
    std::move(reply)("answer to " + request);
  });
  OnLoop(loop.get(), [&] {
    // Bare host:port, as the server core passes: TLS because tls_client is set.
    a.transport->AddPeer(2, b.transport->listen_address());
    b.transport->AddPeer(1, a.transport->listen_address());
    evil.transport->AddPeer(2, b.transport->listen_address());
    for (int i = 0; i < 3; ++i) {
      a.transport->Send(2, absl::StrCat("m", i));
      b.transport->Send(1, absl::StrCat("r", i));
    }
    evil.transport->Send(2, "forged");
  });
  ASSERT_TRUE(b.recorder.WaitFor(3, 0));
  ASSERT_TRUE(a.recorder.WaitFor(3, 0));
  EXPECT_EQ(b.recorder.messages(), (std::vector<std::string>{"1:m0", "1:m1", "1:m2"}));
  EXPECT_EQ(a.recorder.messages(), (std::vector<std::string>{"2:r0", "2:r1", "2:r2"}));
  // b refuses evil's certificate: evil learns it (unreachable), b never delivers "forged".
  ASSERT_TRUE(evil.recorder.WaitFor(0, 1));
  OnLoop(loop.get(), [&] { a.transport->Send(2, "after"); });
  ASSERT_TRUE(b.recorder.WaitFor(4, 0));
  for (const std::string& m : b.recorder.messages()) EXPECT_NE(m, "3:forged");
  EXPECT_EQ(b.recorder.messages().size(), 4u);

  // Control queries: over TLS with the client context; a plaintext asker gets no answer.
  const std::string url = "https://" + b.transport->listen_address();
  auto client = Context("a", TlsContext::Role::kClient);
  absl::StatusOr<std::string> answer =
      TcpTransport::Query(url, "members", 10000, size_t{1} << 20, client.get());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, "answer to members");
  EXPECT_FALSE(TcpTransport::Query(b.transport->listen_address(), "members", 2000).ok());
  EXPECT_EQ(TcpTransport::Query(url, "members", 2000).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto wrong = Context("evil", TlsContext::Role::kClient);
  EXPECT_FALSE(TcpTransport::Query(url, "members", 5000, size_t{1} << 20, wrong.get()).ok());

  OnLoop(loop.get(), [&] {
    a.transport->SetHandler(nullptr);
    b.transport->SetHandler(nullptr);
    evil.transport->SetHandler(nullptr);
  });
}

TEST(TlsContextTest, GoCipherNamesAndFileErrorsUseEtcdsWording) {
  EXPECT_EQ(*GoCipherSuites({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                             "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"}),
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
  EXPECT_EQ(GoCipherSuites({"FOO"}).status().message(), "unexpected TLS cipher suite \"FOO\"");
  TlsConfig config;
  config.cert_file = "/nonexistent.pem";
  config.key_file = "/nonexistent.key";
  EXPECT_EQ(TlsContext::Create(config, TlsContext::Role::kServer).status().message(),
            "open /nonexistent.pem: no such file or directory");
}

TEST(TlsContextTest, SelfSignedCertificateLoadsAndIsReused) {
  const std::string dir = Dir() + "-self";
  ASSERT_EQ(std::system(absl::StrCat("rm -rf ", dir).c_str()), 0);
  absl::StatusOr<TlsConfig> first = SelfSignedCert(dir + "/fixtures/peer", {"127.0.0.1", "localhost"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->insecure_skip_verify);
  EXPECT_TRUE(TlsContext::Create(*first, TlsContext::Role::kServer).ok());
  const std::string check = absl::StrCat("openssl x509 -noout -ext subjectAltName -in ",
                                         first->cert_file, " | grep -q 'IP Address:127.0.0.1'");
  EXPECT_EQ(std::system(check.c_str()), 0);
  const std::string before = absl::StrCat("cksum ", first->cert_file, " > ", dir, "/sum");
  ASSERT_EQ(std::system(before.c_str()), 0);
  ASSERT_TRUE(SelfSignedCert(dir + "/fixtures/peer", {"127.0.0.1"}).ok());
  const std::string same = absl::StrCat("cksum ", first->cert_file, " | cmp -s - ", dir, "/sum");
  EXPECT_EQ(std::system(same.c_str()), 0);  // etcd reuses existing fixtures
}

}  // namespace
}  // namespace keel::env
