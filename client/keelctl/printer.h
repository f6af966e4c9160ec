// etcdctl 3.4's three output formats (-w simple|json|table) for every response keelctl prints.
// Commands etcdctl cannot print as a table fail with kUnimplemented
// "table not supported as output format", as etcdctl does.
#ifndef KEEL_CLIENT_KEELCTL_PRINTER_H_
#define KEEL_CLIENT_KEELCTL_PRINTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.pb.h"

namespace keel::client::keelctl {

enum class Format { kSimple, kJson, kTable };

struct EndpointHealth {
  std::string endpoint;
  bool healthy = false;
  absl::Duration took;
  std::string error;
};

struct EndpointStatus {
  std::string endpoint;
  etcdserverpb::StatusResponse status;
};

struct EndpointHash {
  std::string endpoint;
  etcdserverpb::HashKVResponse hash;
};

// Each method writes to stdout (health's simple lines go to stderr, as in etcdctl).
class Printer {
 public:
  explicit Printer(Format format, bool value_only = false) : format_(format), value_only_(value_only) {}

  absl::Status Get(const etcdserverpb::RangeResponse& r) const;
  absl::Status Put(const etcdserverpb::PutResponse& r) const;
  absl::Status Del(const etcdserverpb::DeleteRangeResponse& r) const;
  absl::Status Txn(const etcdserverpb::TxnResponse& r) const;
  absl::Status Watch(const etcdserverpb::WatchResponse& r) const;
  absl::Status Grant(const etcdserverpb::LeaseGrantResponse& r) const;
  absl::Status Revoke(int64_t id, const etcdserverpb::LeaseRevokeResponse& r) const;
  absl::Status KeepAlive(const etcdserverpb::LeaseKeepAliveResponse& r) const;
  absl::Status TimeToLive(const etcdserverpb::LeaseTimeToLiveResponse& r, bool keys) const;
  absl::Status Leases(const etcdserverpb::LeaseLeasesResponse& r) const;
  absl::Status MemberList(const etcdserverpb::MemberListResponse& r) const;
  absl::Status MemberAdd(const etcdserverpb::MemberAddResponse& r) const;
  absl::Status MemberRemove(uint64_t id, const etcdserverpb::MemberRemoveResponse& r) const;
  absl::Status MemberPromote(uint64_t id, const etcdserverpb::MemberPromoteResponse& r) const;
  absl::Status EndpointHealthList(const std::vector<EndpointHealth>& list) const;
  absl::Status EndpointStatusList(const std::vector<EndpointStatus>& list) const;
  absl::Status EndpointHashList(const std::vector<EndpointHash>& list) const;
  absl::Status MoveLeader(uint64_t from, uint64_t to, const etcdserverpb::MoveLeaderResponse& r) const;

  Format format() const { return format_; }

 private:
  void PrintKv(const mvccpb::KeyValue& kv) const;
  absl::Status NoTable() const;

  Format format_;
  bool value_only_;
};

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_PRINTER_H_
