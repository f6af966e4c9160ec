#include "server/alarms.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace keel::server {
namespace {

constexpr std::string_view kAlarmBucket = "alarm";

std::string AlarmKey(uint64_t member_id, int type) {
  return absl::StrFormat("%016x/%d", member_id, type);
}

etcdserverpb::AlarmMember ToProto(uint64_t member_id, int type) {
  etcdserverpb::AlarmMember m;
  m.set_memberid(member_id);
  m.set_alarm(static_cast<etcdserverpb::AlarmType>(type));
  return m;
}

}  // namespace

std::string AlarmText(const etcdserverpb::AlarmMember& m) {
  // Protobuf text omits zero fields: etcd 3.4.23's CORRUPT alarm (member 0) is
  // "alarm:CORRUPT ".
  if (m.memberid() == 0) return absl::StrFormat("alarm:%s ", etcdserverpb::AlarmType_Name(m.alarm()));
  return absl::StrFormat("memberID:%d alarm:%s ", m.memberid(),
                         etcdserverpb::AlarmType_Name(m.alarm()));
}

absl::StatusOr<Alarms> Alarms::Load(const kv::Backend& backend) {
  Alarms alarms;
  absl::Status scan =
      backend.Scan(kAlarmBucket, "", "", 0, [&](std::string_view key, std::string_view) {
        // Debian's Abseil has its own string_view type: convert explicitly.
        const absl::string_view whole(key.data(), key.size());
        std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(whole, '/');
        uint64_t member = 0;
        int type = 0;
        if (absl::SimpleHexAtoi(parts.first, &member) && absl::SimpleAtoi(parts.second, &type)) {
          alarms.raised_.insert({member, type});
        }
        return true;
      });
  if (!scan.ok()) return scan;
  return alarms;
}

std::vector<etcdserverpb::AlarmMember> Alarms::Apply(const etcdserverpb::AlarmRequest& r,
                                                     kv::Backend& backend) {
  std::vector<etcdserverpb::AlarmMember> out;
  const int type = r.alarm();
  switch (r.action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& [member, t] : raised_) {
        // etcd's GET filters by alarm type only (NONE = all), whatever memberID says.
        if (type == etcdserverpb::NONE || type == t) {
          out.push_back(ToProto(member, t));
        }
      }
      break;
    case etcdserverpb::AlarmRequest::ACTIVATE:
      if (type == etcdserverpb::NONE) break;
      if (raised_.insert({r.memberid(), type}).second) {
        backend.Put(kAlarmBucket, AlarmKey(r.memberid(), type), "");
        out.push_back(ToProto(r.memberid(), type));
      }
      break;
    case etcdserverpb::AlarmRequest::DEACTIVATE:
      if (raised_.erase({r.memberid(), type}) > 0) {
        backend.Delete(kAlarmBucket, AlarmKey(r.memberid(), type));
        out.push_back(ToProto(r.memberid(), type));
      }
      break;
    default:
      break;
  }
  return out;
}

std::vector<etcdserverpb::AlarmMember> Alarms::List() const {
  std::vector<etcdserverpb::AlarmMember> out;
  for (const auto& [member, t] : raised_) out.push_back(ToProto(member, t));
  return out;
}

bool Alarms::Has(etcdserverpb::AlarmType type) const {
  for (const auto& [member, t] : raised_) {
    if (t == type) return true;
  }
  return false;
}

}  // namespace keel::server
