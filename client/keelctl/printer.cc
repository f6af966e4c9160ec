#include "client/keelctl/printer.h"

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/keelctl/go_json.h"
#include "client/keelctl/text_format.h"

namespace keel::client::keelctl {
namespace {

void Out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void OutLine(const std::string& s) { Out(s + "\n"); }

// A struct that embeds *pb.ResponseHeader: header fields flattened, then `rest`.
std::string Flattened(const etcdserverpb::ResponseHeader& header, const std::string& rest) {
  std::string h = GoJsonFields(header);
  if (h.empty()) return absl::StrCat("{", rest, "}");
  return absl::StrCat("{", h, ",", rest, "}");
}

std::vector<std::vector<std::string>> MemberRows(const etcdserverpb::MemberListResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r.members()) {
    rows.push_back({absl::StrFormat("%x", m.id()), m.name().empty() ? "unstarted" : "started",
                    m.name(), absl::StrJoin(m.peerurls(), ","), absl::StrJoin(m.clienturls(), ","),
                    m.islearner() ? "true" : "false"});
  }
  return rows;
}

std::vector<std::vector<std::string>> StatusRows(const std::vector<EndpointStatus>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list) {
    const auto& s = e.status;
    rows.push_back({e.endpoint, absl::StrFormat("%x", s.header().member_id()), s.version(),
                    HumanBytes(static_cast<uint64_t>(s.dbsize())),
                    s.leader() == s.header().member_id() ? "true" : "false",
                    s.islearner() ? "true" : "false", absl::StrCat(s.raftterm()),
                    absl::StrCat(s.raftindex()), absl::StrCat(s.raftappliedindex()),
                    absl::StrJoin(s.errors(), ", ")});
  }
  return rows;
}

void PrintRowsSimple(const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) OutLine(absl::StrJoin(row, ", "));
}

}  // namespace

absl::Status Printer::NoTable() const {
  return absl::UnimplementedError("table not supported as output format");
}

void Printer::PrintKv(const mvccpb::KeyValue& kv) const {
  if (!value_only_) OutLine(kv.key());
  OutLine(kv.value());
}

absl::Status Printer::Get(const etcdserverpb::RangeResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  for (const auto& kv : r.kvs()) PrintKv(kv);
  return absl::OkStatus();
}

absl::Status Printer::Put(const etcdserverpb::PutResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine("OK");
  if (r.has_prev_kv()) PrintKv(r.prev_kv());
  return absl::OkStatus();
}

absl::Status Printer::Del(const etcdserverpb::DeleteRangeResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrCat(r.deleted()));
  for (const auto& kv : r.prev_kvs()) PrintKv(kv);
  return absl::OkStatus();
}

absl::Status Printer::Txn(const etcdserverpb::TxnResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(r.succeeded() ? "SUCCESS" : "FAILURE");
  for (const auto& op : r.responses()) {
    OutLine("");
    if (op.has_response_put()) Put(op.response_put()).IgnoreError();
    else if (op.has_response_range()) Get(op.response_range()).IgnoreError();
    else if (op.has_response_delete_range()) Del(op.response_delete_range()).IgnoreError();
    else OutLine(absl::StrCat("unexpected response ", op.ShortDebugString()));
  }
  return absl::OkStatus();
}

absl::Status Printer::Watch(const etcdserverpb::WatchResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) {
    // clientv3.WatchResponse has no json tags: Go field names, no omitempty, and a
    // non-pointer Header.
    std::vector<std::string> events;
    for (const auto& e : r.events()) events.push_back(GoJson(e));
    OutLine(absl::StrCat("{\"Header\":", GoJson(r.header()), ",\"Events\":",
                         events.empty() ? "null" : absl::StrCat("[", absl::StrJoin(events, ","), "]"),
                         ",\"CompactRevision\":", r.compact_revision(),
                         ",\"Canceled\":", r.canceled() ? "true" : "false",
                         ",\"Created\":", r.created() ? "true" : "false", "}"));
    return absl::OkStatus();
  }
  for (const auto& e : r.events()) {
    OutLine(e.type() == mvccpb::Event::DELETE ? "DELETE" : "PUT");
    if (e.has_prev_kv()) PrintKv(e.prev_kv());
    PrintKv(e.kv());
  }
  return absl::OkStatus();
}

absl::Status Printer::Grant(const etcdserverpb::LeaseGrantResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) {
    OutLine(Flattened(r.header(), absl::StrCat("\"ID\":", r.id(), ",\"TTL\":", r.ttl(),
                                               ",\"Error\":", GoQuote(r.error()))));
    return absl::OkStatus();
  }
  OutLine(absl::StrFormat("lease %s granted with TTL(%ds)", LeaseHex(r.id()), r.ttl()));
  return absl::OkStatus();
}

absl::Status Printer::Revoke(int64_t id, const etcdserverpb::LeaseRevokeResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrFormat("lease %s revoked", LeaseHex(id)));
  return absl::OkStatus();
}

absl::Status Printer::KeepAlive(const etcdserverpb::LeaseKeepAliveResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) {
    OutLine(Flattened(r.header(), absl::StrCat("\"ID\":", r.id(), ",\"TTL\":", r.ttl())));
    return absl::OkStatus();
  }
  OutLine(absl::StrFormat("lease %s keepalived with TTL(%d)", LeaseHex(r.id()), r.ttl()));
  std::fflush(stdout);
  return absl::OkStatus();
}

absl::Status Printer::TimeToLive(const etcdserverpb::LeaseTimeToLiveResponse& r, bool keys) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) {
    std::vector<std::string> ks;
    for (const auto& k : r.keys()) ks.push_back(GoQuote(Base64(k)));
    OutLine(Flattened(r.header(), absl::StrCat("\"id\":", r.id(), ",\"ttl\":", r.ttl(),
                                               ",\"granted-ttl\":", r.grantedttl(), ",\"keys\":",
                                               ks.empty() ? "null" : absl::StrCat("[", absl::StrJoin(ks, ","), "]"))));
    return absl::OkStatus();
  }
  if (r.grantedttl() == 0 && r.ttl() == -1) {
    OutLine(absl::StrFormat("lease %s already expired", LeaseHex(r.id())));
    return absl::OkStatus();
  }
  std::string text = absl::StrFormat("lease %s granted with TTL(%ds), remaining(%ds)", LeaseHex(r.id()),
                                     r.grantedttl(), r.ttl());
  if (keys) absl::StrAppend(&text, ", attached keys([", absl::StrJoin(r.keys(), " "), "])");
  OutLine(text);
  return absl::OkStatus();
}

absl::Status Printer::Leases(const etcdserverpb::LeaseLeasesResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) {
    std::vector<std::string> ls;
    for (const auto& l : r.leases()) ls.push_back(absl::StrCat("{\"id\":", l.id(), "}"));
    OutLine(Flattened(r.header(), absl::StrCat("\"leases\":[", absl::StrJoin(ls, ","), "]")));
    return absl::OkStatus();
  }
  OutLine(absl::StrFormat("found %d leases", r.leases_size()));
  for (const auto& l : r.leases()) OutLine(LeaseHex(l.id()));
  return absl::OkStatus();
}

absl::Status Printer::MemberList(const etcdserverpb::MemberListResponse& r) const {
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  auto rows = MemberRows(r);
  if (format_ == Format::kTable) {
    Out(RenderTable({"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"}, rows));
  } else {
    PrintRowsSimple(rows);
  }
  return absl::OkStatus();
}

absl::Status Printer::MemberAdd(const etcdserverpb::MemberAddResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrFormat("Member %16x added to cluster %16x", r.member().id(), r.header().cluster_id()));
  return absl::OkStatus();
}

absl::Status Printer::MemberRemove(uint64_t id, const etcdserverpb::MemberRemoveResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrFormat("Member %16x removed from cluster %16x", id, r.header().cluster_id()));
  return absl::OkStatus();
}

absl::Status Printer::MemberPromote(uint64_t id, const etcdserverpb::MemberPromoteResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrFormat("Member %16x promoted in cluster %16x", id, r.header().cluster_id()));
  return absl::OkStatus();
}

absl::Status Printer::EndpointHealthList(const std::vector<EndpointHealth>& list) const {
  if (format_ == Format::kJson) {
    std::vector<std::string> items;
    for (const auto& h : list) {
      std::string item = absl::StrCat("{\"endpoint\":", GoQuote(h.endpoint), ",\"health\":",
                                      h.healthy ? "true" : "false", ",\"took\":", GoQuote(GoDuration(h.took)));
      if (!h.error.empty()) absl::StrAppend(&item, ",\"error\":", GoQuote(h.error));
      items.push_back(item + "}");
    }
    OutLine(absl::StrCat("[", absl::StrJoin(items, ","), "]"));
  } else if (format_ == Format::kTable) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : list) {
      rows.push_back({h.endpoint, h.healthy ? "true" : "false", GoDuration(h.took), h.error});
    }
    Out(RenderTable({"endpoint", "health", "took", "error"}, rows));
  } else {
    for (const auto& h : list) {
      if (h.error.empty()) {
        std::cerr << h.endpoint << " is healthy: successfully committed proposal: took = "
                  << GoDuration(h.took) << "\n";
      } else {
        std::cerr << h.endpoint << " is unhealthy: failed to commit proposal: " << h.error << "\n";
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Printer::EndpointStatusList(const std::vector<EndpointStatus>& list) const {
  if (format_ == Format::kJson) {
    std::vector<std::string> items;
    for (const auto& e : list) {
      items.push_back(absl::StrCat("{\"Endpoint\":", GoQuote(e.endpoint), ",\"Status\":", GoJson(e.status), "}"));
    }
    OutLine(absl::StrCat("[", absl::StrJoin(items, ","), "]"));
    return absl::OkStatus();
  }
  auto rows = StatusRows(list);
  if (format_ == Format::kTable) {
    Out(RenderTable({"endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term",
                     "raft index", "raft applied index", "errors"},
                    rows));
  } else {
    PrintRowsSimple(rows);
  }
  return absl::OkStatus();
}

absl::Status Printer::EndpointHashList(const std::vector<EndpointHash>& list) const {
  if (format_ == Format::kJson) {
    std::vector<std::string> items;
    for (const auto& e : list) {
      items.push_back(absl::StrCat("{\"Endpoint\":", GoQuote(e.endpoint), ",\"HashKV\":", GoJson(e.hash), "}"));
    }
    OutLine(absl::StrCat("[", absl::StrJoin(items, ","), "]"));
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list) rows.push_back({e.endpoint, absl::StrCat(e.hash.hash())});
  if (format_ == Format::kTable) {
    Out(RenderTable({"endpoint", "hash"}, rows));
  } else {
    PrintRowsSimple(rows);
  }
  return absl::OkStatus();
}

absl::Status Printer::MoveLeader(uint64_t from, uint64_t to, const etcdserverpb::MoveLeaderResponse& r) const {
  if (format_ == Format::kTable) return NoTable();
  if (format_ == Format::kJson) return OutLine(GoJson(r)), absl::OkStatus();
  OutLine(absl::StrFormat("Leadership transferred from %x to %x", from, to));
  return absl::OkStatus();
}

}  // namespace keel::client::keelctl
