#include "server/membership.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/errors.h"
#include "server/member_id.h"
#include "server/reconfig_check.h"

namespace keel::server {
namespace {

constexpr std::string_view kMembersBucket = "members";
constexpr std::string_view kRemovedBucket = "members_removed";
constexpr std::string_view kClusterBucket = "cluster";
constexpr std::string_view kClusterIdKey = "cluster_id";
constexpr std::string_view kJoinRemotesBucket = "join_remotes";
// Index of a refused configuration change -> "<absl::StatusCode number>:<message>".
constexpr std::string_view kRefusedChangesBucket = "members_refused_changes";

std::string IdKey(uint64_t id) { return absl::StrFormat("%016x", id); }

bool SharesPeerUrl(const serverpb::Member& a, const serverpb::Member& b) {
  for (const std::string& url : a.peer_urls()) {
    if (std::find(b.peer_urls().begin(), b.peer_urls().end(), url) != b.peer_urls().end()) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Sorted(std::vector<std::string> urls) {
  std::sort(urls.begin(), urls.end());
  return urls;
}

// etcd prints the existing cluster in these errors; IDs and peer URLs are what matter.
std::string Describe(const ExistingCluster& existing) {
  std::string out = absl::StrFormat("{ClusterID:%x Members:[", existing.cluster_id);
  for (size_t i = 0; i < existing.members.size(); ++i) {
    const ExistingCluster::Member& m = existing.members[i];
    absl::StrAppendFormat(&out, "%s&{ID:%x Name:%s PeerURLs:[%s]}", i == 0 ? "" : " ", m.id,
                          m.name, absl::StrJoin(m.peer_urls, " "));
  }
  return out + "]}";
}

}  // namespace

absl::StatusOr<Membership> Membership::Join(const std::vector<PeerConfig>& initial_cluster,
                                            const std::string& name,
                                            const std::vector<std::string>& advertise_peer_urls,
                                            const ExistingCluster& existing,
                                            uint64_t* member_id) {
  const PeerConfig* self = nullptr;
  for (const PeerConfig& peer : initial_cluster) {
    if (peer.name == name) self = &peer;
  }
  if (self == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "couldn't find local name \"%s\" in the initial cluster configuration", name));
  }
  if (Sorted(self->peer_urls) != Sorted(advertise_peer_urls)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--initial-cluster has %s=%s but missing from --initial-advertise-peer-urls=%s", name,
        absl::StrJoin(self->peer_urls, ","), absl::StrJoin(advertise_peer_urls, ",")));
  }
  if (existing.cluster_id == 0 || existing.members.empty()) {
    return absl::UnavailableError("the running cluster answered with no cluster ID or members");
  }
  const std::string prefix =
      absl::StrFormat("error validating peerURLs %s: ", Describe(existing));
  if (existing.members.size() != initial_cluster.size()) {
    return absl::FailedPreconditionError(prefix + "member count is unequal");
  }
  Membership m;
  m.cluster_id_ = existing.cluster_id;
  *member_id = 0;
  for (const ExistingCluster::Member& member : existing.members) {
    const PeerConfig* local = nullptr;
    for (const PeerConfig& peer : initial_cluster) {
      if (Sorted(peer.peer_urls) == Sorted(member.peer_urls)) local = &peer;
    }
    if (local == nullptr) {
      return absl::FailedPreconditionError(
          prefix + absl::StrFormat("unmatched member while checking PeerURLs (member %x with "
                                   "%s is not in --initial-cluster)",
                                   member.id, absl::StrJoin(member.peer_urls, ",")));
    }
    if (local == self) {
      // A member that already published its name has run with some data directory; a
      // second life with an empty one would forget its log and votes under the same ID.
      if (!member.name.empty() || !member.client_urls.empty()) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "member %x has already been bootstrapped (it published name \"%s\"); remove it "
            "and add it again to join with an empty data directory",
            member.id, member.name));
      }
      *member_id = member.id;
      continue;
    }
    serverpb::Member& remote = m.join_remotes_.emplace_back();
    remote.set_id(member.id);
    remote.set_name(member.name);
    for (const std::string& url : Sorted(member.peer_urls)) remote.add_peer_urls(url);
  }
  if (*member_id == 0) {  // e.g. two running members matched one --initial-cluster entry
    return absl::FailedPreconditionError(
        prefix + absl::StrFormat("unmatched member while checking PeerURLs (%s=%s is not a "
                                 "member of the running cluster; run `member add` first)",
                                 name, absl::StrJoin(self->peer_urls, ",")));
  }
  if (m.join_remotes_.empty()) {
    return absl::FailedPreconditionError(prefix + "no other member to join");
  }
  return m;
}

absl::StatusOr<Membership> Membership::Bootstrap(const std::vector<PeerConfig>& initial_cluster,
                                                 const std::string& cluster_token) {
  if (initial_cluster.empty()) {
    return absl::InvalidArgumentError("--initial-cluster names no member");
  }
  Membership m;
  std::vector<uint64_t> ids;
  for (const PeerConfig& peer : initial_cluster) {
    if (peer.peer_urls.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--initial-cluster gives member %s no peer URL", peer.name));
    }
    serverpb::Member member;
    member.set_id(ComputeMemberId(peer.peer_urls, cluster_token));
    member.set_name(peer.name);
    std::vector<std::string> urls = peer.peer_urls;
    std::sort(urls.begin(), urls.end());
    for (const std::string& url : urls) member.add_peer_urls(url);
    for (const auto& [id, existing] : m.members_) {
      if (id == member.id() || SharesPeerUrl(existing, member)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "--initial-cluster has duplicate peer URLs or names (%s and %s)", existing.name(),
            peer.name));
      }
    }
    ids.push_back(member.id());
    m.members_[member.id()] = std::move(member);
  }
  m.cluster_id_ = ComputeClusterId(ids);
  return m;
}

bool Membership::IsMembershipBucket(std::string_view bucket) {
  return bucket == kMembersBucket || bucket == kRemovedBucket || bucket == kClusterBucket ||
         bucket == kJoinRemotesBucket || bucket == kRefusedChangesBucket;
}

absl::StatusOr<Membership> Membership::Load(const kv::Backend& backend) {
  Membership m;
  auto cluster_id = backend.Get(kClusterBucket, kClusterIdKey);
  if (!cluster_id.ok()) return cluster_id.status();
  if (!cluster_id->has_value() || !absl::SimpleHexAtoi(**cluster_id, &m.cluster_id_)) {
    return absl::DataLossError("backend holds no cluster membership (cluster/cluster_id)");
  }
  absl::Status scan = backend.Scan(
      kMembersBucket, "", "", 0, [&](std::string_view, std::string_view value) {
        serverpb::Member member;
        if (member.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          m.members_[member.id()] = std::move(member);
        }
        return true;
      });
  if (!scan.ok()) return scan;
  scan = backend.Scan(kRemovedBucket, "", "", 0, [&](std::string_view key, std::string_view) {
    uint64_t id = 0;
    if (absl::SimpleHexAtoi(absl::string_view(key.data(), key.size()), &id)) m.removed_.insert(id);
    return true;
  });
  if (!scan.ok()) return scan;
  scan = backend.Scan(kJoinRemotesBucket, "", "", 0, [&](std::string_view, std::string_view value) {
    serverpb::Member member;
    if (member.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      m.join_remotes_.push_back(std::move(member));
    }
    return true;
  });
  if (!scan.ok()) return scan;
  if (m.members_.empty() && m.join_remotes_.empty()) {
    return absl::DataLossError("backend holds no members");
  }
  return m;
}

std::vector<serverpb::Member> Membership::List() const {
  std::vector<serverpb::Member> list;
  list.reserve(members_.size());
  for (const auto& [id, member] : members_) list.push_back(member);
  return list;
}

const serverpb::Member* Membership::Find(uint64_t id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const serverpb::Member* Membership::FindByName(const std::string& name) const {
  for (const auto& [id, member] : members_) {
    if (member.name() == name) return &member;
  }
  return nullptr;
}

size_t Membership::voter_count() const {
  size_t n = 0;
  for (const auto& [id, member] : members_) n += member.is_learner() ? 0 : 1;
  return n;
}

absl::Status Membership::ValidateConfChange(const raftpb::ConfChange& cc,
                                            const serverpb::ConfChangeContext& ctx) const {
  const uint64_t id = cc.node_id();
  if (removed_.contains(id)) return MemberNotFoundError();
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
    case raftpb::ConfChangeAddLearnerNode: {
      const serverpb::Member* existing = Find(id);
      const bool promotion = cc.type() == raftpb::ConfChangeAddNode && existing != nullptr &&
                             existing->is_learner();
      if (promotion) return absl::OkStatus();
      if (existing != nullptr) return MemberExistError();
      for (const auto& [other_id, other] : members_) {
        if (SharesPeerUrl(other, ctx.member())) return PeerUrlExistError();
      }
      // etcd's maxLearners, checked when the change applies (every member alike).
      if (cc.type() == raftpb::ConfChangeAddLearnerNode) return CheckLearnerLimit(List());
      return absl::OkStatus();
    }
    case raftpb::ConfChangeRemoveNode:
      if (Find(id) == nullptr) return MemberNotFoundError();
      return absl::OkStatus();
    case raftpb::ConfChangeUpdateNode: {
      if (Find(id) == nullptr) return MemberNotFoundError();
      for (const auto& [other_id, other] : members_) {
        if (other_id != id && SharesPeerUrl(other, ctx.member())) return PeerUrlExistError();
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("unknown configuration change type");
  }
}

absl::Status Membership::ApplyConfChange(uint64_t index, const raftpb::ConfChange& cc,
                                         const serverpb::ConfChangeContext& ctx,
                                         kv::Backend& backend) {
  absl::Status applied = Apply(cc, ctx, backend);
  if (!applied.ok()) {
    backend.Put(kRefusedChangesBucket, IdKey(index),
                absl::StrFormat("%d:%s", static_cast<int>(applied.code()), applied.message()));
  }
  return applied;
}

absl::Status Membership::RefusalAt(uint64_t index, const kv::Backend& backend) {
  absl::StatusOr<std::optional<std::string>> refusal = backend.Get(kRefusedChangesBucket, IdKey(index));
  if (!refusal.ok()) return refusal.status();
  if (!refusal->has_value()) return absl::OkStatus();
  const std::string& text = **refusal;
  const size_t colon = text.find(':');
  int code = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(0, colon), &code) || code <= 0) {
    return absl::DataLossError(absl::StrFormat("unreadable refusal record for entry %d", index));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), text.substr(colon + 1));
}

absl::Status Membership::Apply(const raftpb::ConfChange& cc, const serverpb::ConfChangeContext& ctx,
                               kv::Backend& backend) {
  // The log of a new cluster starts by adding its initial members, whom Bootstrap already
  // knows: re-adding a member exactly as it is changes nothing.
  const serverpb::Member* existing = Find(cc.node_id());
  if (existing != nullptr && cc.type() == raftpb::ConfChangeAddNode && !existing->is_learner() &&
      std::equal(existing->peer_urls().begin(), existing->peer_urls().end(),
                 ctx.member().peer_urls().begin(), ctx.member().peer_urls().end())) {
    Save(*existing, backend);
    return absl::OkStatus();
  }
  absl::Status valid = ValidateConfChange(cc, ctx);
  if (!valid.ok()) return valid;
  const uint64_t id = cc.node_id();
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
    case raftpb::ConfChangeAddLearnerNode: {
      auto it = members_.find(id);
      if (it != members_.end()) {  // promotion of a learner
        it->second.set_is_learner(false);
        Save(it->second, backend);
        break;
      }
      serverpb::Member member = ctx.member();
      member.set_id(id);
      member.set_is_learner(cc.type() == raftpb::ConfChangeAddLearnerNode);
      Save(member, backend);
      members_[id] = std::move(member);
      break;
    }
    case raftpb::ConfChangeRemoveNode:
      members_.erase(id);
      removed_.insert(id);
      backend.Delete(kMembersBucket, IdKey(id));
      backend.Put(kRemovedBucket, IdKey(id), "");
      break;
    case raftpb::ConfChangeUpdateNode: {
      serverpb::Member& member = members_.at(id);
      member.mutable_peer_urls()->CopyFrom(ctx.member().peer_urls());
      Save(member, backend);
      break;
    }
    default:
      return absl::InvalidArgumentError("unknown configuration change type");
  }
  return absl::OkStatus();
}

void Membership::ApplyPublish(const serverpb::MemberAttributes& attributes,
                              kv::Backend& backend) {
  auto it = members_.find(attributes.member_id());
  if (it == members_.end()) return;
  it->second.set_name(attributes.name());
  it->second.mutable_client_urls()->CopyFrom(attributes.client_urls());
  Save(it->second, backend);
}

void Membership::SaveAll(kv::Backend& backend) const {
  backend.Put(kClusterBucket, kClusterIdKey, absl::StrFormat("%x", cluster_id_));
  for (const auto& [id, member] : members_) Save(member, backend);
  for (uint64_t id : removed_) backend.Put(kRemovedBucket, IdKey(id), "");
  for (const serverpb::Member& remote : join_remotes_) {
    backend.Put(kJoinRemotesBucket, IdKey(remote.id()), remote.SerializeAsString());
  }
}

void Membership::Save(const serverpb::Member& member, kv::Backend& backend) const {
  backend.Put(kMembersBucket, IdKey(member.id()), member.SerializeAsString());
}

}  // namespace keel::server
