#include "raft/read_only.h"

#include <utility>

#include "base/check.h"

namespace keel::raft {

void ReadOnly::AddRequest(uint64_t index, const raftpb::Message& m) {
  const std::string& ctx = m.entries(0).data();
  if (pending_.count(ctx) > 0) return;  // Duplicate context: one confirmation serves both.
  KEEL_CHECK_MSG(!Full(), "read index queue is full");
  Pending p;
  p.req = m;
  p.index = index;
  pending_.emplace(ctx, std::move(p));
  queue_.push_back(ctx);
}

const std::map<uint64_t, bool>* ReadOnly::RecvAck(uint64_t id, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadOnly::Pending> ReadOnly::Advance(const std::string& ctx) {
  size_t n = 0;
  bool found = false;
  for (const std::string& queued : queue_) {
    ++n;
    if (queued == ctx) {
      found = true;
      break;
    }
  }
  std::vector<Pending> out;
  if (!found) return out;
  for (size_t i = 0; i < n; ++i) {
    auto it = pending_.find(queue_.front());
    KEEL_CHECK_MSG(it != pending_.end(), "queued read index without pending entry");
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace keel::raft
