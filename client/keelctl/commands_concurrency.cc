// keelctl lock and elect, holding a session lease kept alive in the background.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/lease_keep_alive.h"
#include "client/keelctl/command_context.h"

namespace keel::client::keelctl {
namespace {

struct Session {
  int64_t lease_id = 0;
  std::unique_ptr<LeaseKeepAlive> keeper;
};

Session StartSession(Client* client, int64_t ttl) {
  auto grant = client->LeaseGrant(ttl);
  FailOn(grant.status());
  Session s;
  s.lease_id = grant->id();
  s.keeper = LeaseKeepAlive::Start(client, grant->id(), grant->ttl());
  return s;
}

void AddLock(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("lock", "Acquires a named lock");
  auto args = std::make_shared<std::vector<std::string>>();
  auto ttl = std::make_shared<int64_t>(10);
  cmd->add_option("args", *args);
  cmd->add_option("--ttl", *ttl);
  cmd->callback([=, &ctx] {
    if (args->empty()) Fail(kExitBadArgs, "lock takes a lock name argument and an optional command to execute");
    Client* client = ctx.client();
    Session session = StartSession(client, *ttl);
    auto lock = client->Lock((*args)[0], session.lease_id, absl::Hours(24 * 365));
    FailOn(lock.status());
    int rc = 0;
    if (args->size() > 1) {
      // Run the command while holding the lock, with the lock's key in its environment.
      ::setenv("ETCD_LOCK_KEY", lock->key().c_str(), 1);
      ::setenv("ETCD_LOCK_REV", absl::StrCat(lock->header().revision()).c_str(), 1);
      std::vector<std::string> rest(args->begin() + 1, args->end());
      int status = std::system(absl::StrJoin(rest, " ").c_str());
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : kExitError;
    } else {
      std::cout << lock->key() << std::endl;
      WaitForInterrupt();
    }
    client->Unlock(lock->key()).IgnoreError();
    session.keeper.reset();
    client->LeaseRevoke(session.lease_id).IgnoreError();
    if (rc != 0) std::exit(rc);
  });
}

void AddElect(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("elect", "Observes and participates in leader election");
  auto args = std::make_shared<std::vector<std::string>>();
  auto listen = std::make_shared<bool>(false);
  auto ttl = std::make_shared<int64_t>(10);
  cmd->add_option("args", *args);
  cmd->add_flag("-l,--listen", *listen);
  cmd->add_option("--ttl", *ttl);
  cmd->callback([=, &ctx] {
    if (args->empty() || args->size() > 2) Fail(kExitBadArgs, "elect takes one election name argument and an optional proposal argument");
    if (*listen == (args->size() == 2)) {
      Fail(kExitBadArgs, *listen ? "--listen cannot be used with a proposal" : "no proposal argument but -l not set");
    }
    Client* client = ctx.client();
    if (*listen) {
      // Observing holds nothing to release: let SIGINT/SIGTERM end the process directly.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      FailOn(client->Observe((*args)[0], absl::Hours(24 * 365), [&](const v3electionpb::LeaderResponse& r) {
        etcdserverpb::RangeResponse get;
        *get.mutable_header() = r.header();
        if (r.has_kv()) *get.add_kvs() = r.kv();
        ctx.printer().Get(get).IgnoreError();
        std::fflush(stdout);
        return true;
      }));
      return;
    }
    Session session = StartSession(client, *ttl);
    auto campaign = client->Campaign((*args)[0], session.lease_id, (*args)[1], absl::Hours(24 * 365));
    FailOn(campaign.status());
    auto got = client->Get(campaign->leader().key());
    FailOn(got.status());
    FailOn(ctx.printer().Get(*got));
    std::fflush(stdout);
    WaitForInterrupt();
    client->Resign(campaign->leader()).IgnoreError();
    session.keeper.reset();
    client->LeaseRevoke(session.lease_id).IgnoreError();
  });
}

}  // namespace

void AddConcurrencyCommands(CLI::App& app, Context& ctx) {
  AddLock(app, ctx);
  AddElect(app, ctx);
}

}  // namespace keel::client::keelctl
