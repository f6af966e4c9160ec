// keelctl member, endpoint, move-leader, snapshot save (status/restore: commands_backup.cc).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/keelctl/command_context.h"
#include "client/keelctl/commands_backup.h"

namespace keel::client::keelctl {
namespace {

void AddMember(CLI::App& app, Context& ctx) {
  auto* member = app.add_subcommand("member", "Membership related commands");
  member->require_subcommand(1);
  auto args = std::make_shared<std::vector<std::string>>();
  member->add_subcommand("list", "Lists all members in the cluster")->callback([&ctx] {
    auto resp = ctx.client()->MemberList();
    FailOn(resp.status());
    FailOn(ctx.printer().MemberList(*resp));
  });
  auto add = member->add_subcommand("add", "Adds a member into the cluster");
  auto peer_urls = std::make_shared<std::string>();
  auto learner = std::make_shared<bool>(false);
  add->add_option("name", *args);
  add->add_option("--peer-urls", *peer_urls);
  add->add_flag("--learner", *learner);
  add->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "member name not provided");
    if (peer_urls->empty()) Fail(kExitBadArgs, "member peer urls not provided");
    std::vector<std::string> urls = absl::StrSplit(*peer_urls, ',');
    auto resp = ctx.client()->MemberAdd(urls, *learner);
    FailOn(resp.status());
    FailOn(ctx.printer().MemberAdd(*resp));
    if (ctx.printer().format() != Format::kSimple) return;
    std::vector<std::string> conf;
    for (const auto& m : resp->members()) {
      for (const auto& u : m.peerurls()) {
        conf.push_back(absl::StrCat(m.id() == resp->member().id() ? (*args)[0] : m.name(), "=", u));
      }
    }
    std::cout << "\nETCD_NAME=\"" << (*args)[0] << "\"\n"
              << "ETCD_INITIAL_CLUSTER=\"" << absl::StrJoin(conf, ",") << "\"\n"
              << "ETCD_INITIAL_ADVERTISE_PEER_URLS=\"" << absl::StrJoin(urls, ",") << "\"\n"
              << "ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
  });
  auto remove = member->add_subcommand("remove", "Removes a member from the cluster");
  remove->add_option("id", *args);
  remove->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "member ID is not provided");
    uint64_t id = ParseMemberId((*args)[0]);
    auto resp = ctx.client()->MemberRemove(id);
    FailOn(resp.status());
    FailOn(ctx.printer().MemberRemove(id, *resp));
  });
  auto promote = member->add_subcommand("promote", "Promotes a non-voting member in the cluster");
  promote->add_option("id", *args);
  promote->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "member ID is not provided");
    uint64_t id = ParseMemberId((*args)[0]);
    auto resp = ctx.client()->MemberPromote(id);
    FailOn(resp.status());
    FailOn(ctx.printer().MemberPromote(id, *resp));
  });
}

void AddEndpoint(CLI::App& app, Context& ctx) {
  auto* endpoint = app.add_subcommand("endpoint", "Endpoint related commands");
  endpoint->require_subcommand(1);
  endpoint->add_subcommand("health", "Checks the healthiness of endpoints")->callback([&ctx] {
    std::vector<EndpointHealth> list;
    bool all_healthy = true;
    for (const auto& ep : ctx.Endpoints()) {
      EndpointHealth h;
      h.endpoint = ep;
      ClientOptions options = ctx.Options(/*discover=*/false);
      options.endpoints = {ep};
      absl::Time start = absl::Now();
      auto c = Client::Create(options);
      absl::Status s = c.ok() ? (*c)->Get("health").status() : absl::DeadlineExceededError("context deadline exceeded");
      h.took = absl::Now() - start;
      h.healthy = s.ok() || s.code() == absl::StatusCode::kPermissionDenied;
      if (!h.healthy) h.error = std::string(s.message());
      all_healthy = all_healthy && h.healthy;
      list.push_back(h);
    }
    FailOn(ctx.printer().EndpointHealthList(list));
    if (!all_healthy) Fail(kExitError, "unhealthy cluster");
  });
  endpoint->add_subcommand("status", "Prints out the status of endpoints")->callback([&ctx] {
    std::vector<EndpointStatus> list;
    Client* client = nullptr;
    std::unique_ptr<Client> owned;
    auto c = Client::Create(ctx.Options(/*discover=*/false));
    if (c.ok()) owned = std::move(*c);
    client = owned.get();
    bool failed = false;
    for (const auto& ep : ctx.Endpoints()) {
      auto s = client != nullptr ? client->Status(ep) : absl::StatusOr<etcdserverpb::StatusResponse>(absl::DeadlineExceededError("context deadline exceeded"));
      if (!s.ok()) {
        std::cerr << "Failed to get the status of endpoint " << ep << " (" << s.status().message() << ")\n";
        failed = true;
        continue;
      }
      list.push_back({ep, *s});
    }
    FailOn(ctx.printer().EndpointStatusList(list));
    if (failed) std::exit(kExitError);
  });
  auto rev = std::make_shared<int64_t>(0);
  auto hashkv = endpoint->add_subcommand("hashkv", "Prints the KV history hash for each endpoint in --endpoints");
  hashkv->add_option("--rev", *rev);
  hashkv->callback([=, &ctx] {
    std::vector<EndpointHash> list;
    auto c = Client::Create(ctx.Options(/*discover=*/false));
    bool failed = !c.ok();
    for (const auto& ep : ctx.Endpoints()) {
      if (!c.ok()) break;
      auto h = (*c)->HashKV(ep, *rev);
      if (!h.ok()) {
        std::cerr << "Failed to get the hash of endpoint " << ep << " (" << h.status().message() << ")\n";
        failed = true;
        continue;
      }
      list.push_back({ep, *h});
    }
    FailOn(ctx.printer().EndpointHashList(list));
    if (failed) std::exit(kExitError);
  });
}

void AddMoveLeader(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("move-leader", "Transfers leadership to another etcd cluster member.");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("id", *args);
  cmd->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "move-leader command needs 1 argument");
    uint64_t target = ParseMemberId((*args)[0]);
    auto c = Client::Create(ctx.Options(/*discover=*/false));
    if (!c.ok()) Fail(kExitError, "context deadline exceeded");
    auto resp = (*c)->MoveLeader(target);
    FailOn(resp.status());
    FailOn(ctx.printer().MoveLeader(resp->first, target, resp->second));
  });
}

// Grants a session lease kept alive in the background, as etcdctl's concurrency session does.
void AddSnapshot(CLI::App& app, Context& ctx) {
  auto* snapshot = app.add_subcommand("snapshot", "Manages etcd node snapshots");
  snapshot->require_subcommand(1);
  auto args = std::make_shared<std::vector<std::string>>();
  auto save = snapshot->add_subcommand("save", "Stores an etcd node backend snapshot to a given file");
  save->add_option("filename", *args);
  save->callback([=, &ctx] {
    if (args->size() != 1) Fail(kExitBadArgs, "snapshot save expects one argument");
    auto options = ctx.Options(/*discover=*/false);
    if (options.endpoints.size() != 1) {
      Fail(kExitBadArgs, absl::StrCat("snapshot must be requested to one selected node, not multiple [",
                                      absl::StrJoin(options.endpoints, " "), "]"));
    }
    auto c = Client::Create(options);
    if (!c.ok()) Fail(kExitError, "context deadline exceeded");
    auto bytes = (*c)->SnapshotSave((*args)[0]);
    FailOn(bytes.status());
    std::cout << "Snapshot saved at " << (*args)[0] << "\n";
  });
  AddSnapshotFileCommands(*snapshot, ctx);
}

}  // namespace

void AddClusterCommands(CLI::App& app, Context& ctx) {
  AddMember(app, ctx);
  AddEndpoint(app, ctx);
  AddMoveLeader(app, ctx);
  AddSnapshot(app, ctx);
}

}  // namespace keel::client::keelctl
