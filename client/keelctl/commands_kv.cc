// keelctl get, put, del, txn, compaction, watch.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/keelctl/txn_parse.h"
#include "client/txn.h"
#include "client/watcher.h"
#include "client/keelctl/command_context.h"

namespace keel::client::keelctl {
namespace {

void AddGet(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("get", "Gets the key or a range of keys");
  auto kr = std::make_shared<KeyRange>();
  auto consistency = std::make_shared<std::string>("l");
  auto order = std::make_shared<std::string>();
  auto sort_by = std::make_shared<std::string>();
  auto limit = std::make_shared<int64_t>(0);
  auto rev = std::make_shared<int64_t>(0);
  auto keys_only = std::make_shared<bool>(false);
  auto value_only = std::make_shared<bool>(false);
  cmd->add_option("args", kr->args);
  cmd->add_flag("--prefix", kr->prefix);
  cmd->add_flag("--from-key", kr->from_key);
  cmd->add_option("--consistency", *consistency);
  cmd->add_option("--order", *order);
  cmd->add_option("--sort-by", *sort_by);
  cmd->add_option("--limit", *limit);
  cmd->add_option("--rev", *rev);
  cmd->add_flag("--keys-only", *keys_only);
  cmd->add_flag("--print-value-only", *value_only);
  cmd->callback([=, &ctx] {
    if (kr->args.empty() || kr->args.size() > 2) {
      Fail(kExitBadArgs, "get command needs one argument as key and an optional argument as range_end");
    }
    etcdserverpb::RangeRequest r;
    ApplyRange(*kr, r.mutable_key(), r.mutable_range_end());
    r.set_limit(*limit);
    r.set_revision(*rev);
    r.set_keys_only(*keys_only);
    if (*consistency == "s") r.set_serializable(true);
    else if (*consistency != "l") Fail(kExitBadArgs, absl::StrCat("unknown consistency flag \"", *consistency, "\""));
    if (*order == "ASCEND") r.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
    else if (*order == "DESCEND") r.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
    else if (!order->empty()) Fail(kExitBadArgs, absl::StrCat("bad sort order \"", *order, "\""));
    if (*sort_by == "CREATE") r.set_sort_target(etcdserverpb::RangeRequest::CREATE);
    else if (*sort_by == "KEY") r.set_sort_target(etcdserverpb::RangeRequest::KEY);
    else if (*sort_by == "MODIFY") r.set_sort_target(etcdserverpb::RangeRequest::MOD);
    else if (*sort_by == "VALUE") r.set_sort_target(etcdserverpb::RangeRequest::VALUE);
    else if (*sort_by == "VERSION") r.set_sort_target(etcdserverpb::RangeRequest::VERSION);
    else if (!sort_by->empty()) Fail(kExitBadArgs, absl::StrCat("bad sort target \"", *sort_by, "\""));
    // etcdctl asks for ascending order by key when only a sort target is given.
    if (!sort_by->empty() && order->empty()) r.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
    auto resp = ctx.client()->Range(r);
    FailOn(resp.status());
    FailOn(ctx.printer(*value_only).Get(*resp));
  });
}

void AddPut(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("put", "Puts the given key into the store");
  auto args = std::make_shared<std::vector<std::string>>();
  auto lease = std::make_shared<std::string>("0");
  auto prev_kv = std::make_shared<bool>(false);
  auto ignore_value = std::make_shared<bool>(false);
  auto ignore_lease = std::make_shared<bool>(false);
  cmd->add_option("args", *args);
  cmd->add_option("--lease", *lease);
  cmd->add_flag("--prev-kv", *prev_kv);
  cmd->add_flag("--ignore-value", *ignore_value);
  cmd->add_flag("--ignore-lease", *ignore_lease);
  cmd->callback([=, &ctx] {
    if (args->empty()) Fail(kExitBadArgs, "put command needs 1 argument and input from stdin or 2 arguments");
    etcdserverpb::PutRequest r;
    r.set_key((*args)[0]);
    if (args->size() > 1) r.set_value((*args)[1]);
    else if (!*ignore_value) r.set_value(ReadAllStdin());
    r.set_lease(ParseLeaseId(*lease));
    r.set_prev_kv(*prev_kv);
    r.set_ignore_value(*ignore_value);
    r.set_ignore_lease(*ignore_lease);
    auto resp = ctx.client()->Put(r);
    FailOn(resp.status());
    FailOn(ctx.printer().Put(*resp));
  });
}

void AddDel(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("del", "Removes the specified key or range of keys [key, range_end)");
  auto kr = std::make_shared<KeyRange>();
  auto prev_kv = std::make_shared<bool>(false);
  cmd->add_option("args", kr->args);
  cmd->add_flag("--prefix", kr->prefix);
  cmd->add_flag("--from-key", kr->from_key);
  cmd->add_flag("--prev-kv", *prev_kv);
  cmd->callback([=, &ctx] {
    if (kr->args.empty() || kr->args.size() > 2) {
      Fail(kExitBadArgs, "del command needs one argument as key and an optional argument as range_end");
    }
    etcdserverpb::DeleteRangeRequest r;
    ApplyRange(*kr, r.mutable_key(), r.mutable_range_end());
    r.set_prev_kv(*prev_kv);
    auto resp = ctx.client()->Delete(r);
    FailOn(resp.status());
    FailOn(ctx.printer().Del(*resp));
  });
}

void AddTxn(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("txn", "Txn processes all the requests in one transaction");
  auto interactive = std::make_shared<bool>(false);
  cmd->add_flag("-i,--interactive", *interactive);
  cmd->callback([=, &ctx] {
    if (*interactive) std::cout << "compares:\n";
    std::vector<std::string> lines;
    std::string line;
    // Bounded by the input; etcdctl reads exactly three blank-terminated sections.
    int blanks = 0;
    while (blanks < 3 && std::getline(std::cin, line)) {
      lines.push_back(line);
      if (line.empty()) {
        ++blanks;
        if (*interactive && blanks == 1) std::cout << "success requests (get, put, del):\n";
        if (*interactive && blanks == 2) std::cout << "failure requests (get, put, del):\n";
      }
    }
    auto txn = ParseTxn(lines);
    if (!txn.ok()) Fail(kExitInvalidInput, txn.status().message());
    auto resp = ctx.client()->CommitTxn(*txn);
    FailOn(resp.status());
    FailOn(ctx.printer().Txn(*resp));
  });
}

void AddCompaction(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("compaction", "Compacts the event history in etcd");
  auto rev = std::make_shared<std::vector<std::string>>();
  auto physical = std::make_shared<bool>(false);
  cmd->add_option("revision", *rev);
  cmd->add_flag("--physical", *physical);
  cmd->callback([=, &ctx] {
    int64_t r = 0;
    if (rev->size() != 1) Fail(kExitBadArgs, "compaction command needs 1 argument");
    if (!absl::SimpleAtoi((*rev)[0], &r)) Fail(kExitBadArgs, absl::StrCat("strconv.ParseInt: parsing \"", (*rev)[0], "\": invalid syntax"));
    FailOn(ctx.client()->Compact(r, *physical).status());
    std::cout << "compacted revision " << r << "\n";
  });
}

void AddWatch(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("watch", "Watches events stream on keys or prefixes");
  auto kr = std::make_shared<KeyRange>();
  auto rev = std::make_shared<int64_t>(0);
  auto prev_kv = std::make_shared<bool>(false);
  cmd->add_option("args", kr->args);
  cmd->add_flag("--prefix", kr->prefix);
  cmd->add_option("--rev", *rev);
  cmd->add_flag("--prev-kv", *prev_kv);
  cmd->callback([=, &ctx] {
    if (kr->args.empty() || kr->args.size() > 2) Fail(kExitBadArgs, "watch commands needs key or prefix");
    WatchOptions options;
    ApplyRange(*kr, &options.key, &options.range_end);
    options.start_revision = *rev;
    options.prev_kv = *prev_kv;
    auto watcher = Watcher::Create(ctx.client(), options);
    FailOn(watcher.status());
    // Runs until interrupted (the default SIGINT action ends the process) or the watch fails.
    for (;;) {
      auto resp = (*watcher)->Next();
      if (!resp.ok()) {
        if (resp.status().code() == absl::StatusCode::kOutOfRange) {
          Fail(kExitError, "watch is canceled by the server");
        }
        FailOn(resp.status());
      }
      FailOn(ctx.printer().Watch(*resp));
      std::fflush(stdout);
    }
  });
}

}  // namespace

void AddKvCommands(CLI::App& app, Context& ctx) {
  AddGet(app, ctx);
  AddPut(app, ctx);
  AddDel(app, ctx);
  AddTxn(app, ctx);
  AddCompaction(app, ctx);
  AddWatch(app, ctx);
}

}  // namespace keel::client::keelctl
