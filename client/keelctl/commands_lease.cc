// keelctl lease grant, revoke, timetolive, list, keep-alive.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/lease_keep_alive.h"
#include "client/keelctl/command_context.h"

namespace keel::client::keelctl {
namespace {

void AddLease(CLI::App& app, Context& ctx) {
  auto* lease = app.add_subcommand("lease", "Lease related commands");
  lease->require_subcommand(1);
  auto args = std::make_shared<std::vector<std::string>>();
  auto grant = lease->add_subcommand("grant", "Creates leases");
  grant->add_option("ttl", *args);
  grant->callback([=, &ctx] {
    int64_t ttl = 0;
    if (args->size() != 1) Fail(kExitBadArgs, "lease grant command needs TTL argument");
    if (!absl::SimpleAtoi((*args)[0], &ttl)) Fail(kExitBadArgs, absl::StrCat("bad TTL (strconv.ParseInt: parsing \"", (*args)[0], "\": invalid syntax)"));
    auto resp = ctx.client()->LeaseGrant(ttl);
    if (!resp.ok()) Fail(kExitError, absl::StrCat("failed to grant lease (", resp.status().message(), ")"));
    FailOn(ctx.printer().Grant(*resp));
  });
  auto revoke = lease->add_subcommand("revoke", "Revokes leases");
  revoke->add_option("id", *args);
  revoke->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "lease revoke command needs 1 argument");
    int64_t id = ParseLeaseId((*args)[0]);
    auto resp = ctx.client()->LeaseRevoke(id);
    if (!resp.ok()) Fail(kExitError, absl::StrCat("failed to revoke lease (", resp.status().message(), ")"));
    FailOn(ctx.printer().Revoke(id, *resp));
  });
  auto ttl = lease->add_subcommand("timetolive", "Get lease information");
  auto keys = std::make_shared<bool>(false);
  ttl->add_option("id", *args);
  ttl->add_flag("--keys", *keys);
  ttl->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "lease timetolive command needs lease ID as argument");
    int64_t id = ParseLeaseId((*args)[0]);
    auto resp = ctx.client()->LeaseTimeToLive(id, *keys);
    FailOn(resp.status());
    FailOn(ctx.printer().TimeToLive(*resp, *keys));
  });
  auto list = lease->add_subcommand("list", "List all active leases");
  list->callback([&ctx] {
    auto resp = ctx.client()->LeaseLeases();
    if (!resp.ok()) Fail(kExitError, absl::StrCat("failed to list leases (", resp.status().message(), ")"));
    FailOn(ctx.printer().Leases(*resp));
  });
  auto keep = lease->add_subcommand("keep-alive", "Keeps leases alive (renew)");
  auto once = std::make_shared<bool>(false);
  keep->add_option("id", *args);
  keep->add_flag("--once", *once);
  keep->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "lease keep-alive command needs lease ID as argument");
    int64_t id = ParseLeaseId((*args)[0]);
    if (*once) {
      auto resp = ctx.client()->LeaseKeepAliveOnce(id);
      if (!resp.ok()) Fail(kExitBadConnection, resp.status().message());
      FailOn(ctx.printer().KeepAlive(*resp));
      return;
    }
    auto ttl_resp = ctx.client()->LeaseTimeToLive(id, false);
    FailOn(ttl_resp.status());
    Printer printer = ctx.printer();
    auto keeper = LeaseKeepAlive::Start(ctx.client(), id, std::max<int64_t>(ttl_resp->grantedttl(), 1),
                                        [printer](const etcdserverpb::LeaseKeepAliveResponse& r) {
                                          printer.KeepAlive(r).IgnoreError();
                                        });
    // Runs until the lease is gone (or the process is interrupted).
    keeper->WaitDone(absl::InfiniteDuration()).IgnoreError();
    std::cout << "lease " << absl::StrFormat("%016x", static_cast<uint64_t>(id)) << " expired or revoked.\n";
  });
}

}  // namespace

void AddLeaseCommands(CLI::App& app, Context& ctx) { AddLease(app, ctx); }

}  // namespace keel::client::keelctl
