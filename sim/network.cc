#include "sim/network.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "xxhash.h"

namespace keel::sim {
namespace {

constexpr int kMaxTailDoublings = 10;

// "%016x" without a heap allocation (16 digits do not fit std::string's inline buffer);
// this runs for every message.
void HexDigits(uint64_t v, char (&out)[16]) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kDigits[v & 0xf];
}

}  // namespace

SimNetwork::SimNetwork(World* world, NetworkOptions options, env::Rng rng)
    : world_(world), options_(options), rng_(rng) {
  KEEL_CHECK(world_ != nullptr);
  KEEL_CHECK(options_.max_in_flight_per_link > 0);
}

SimNetwork::~SimNetwork() {
  KEEL_CHECK(endpoints_.empty());  // transports must go first
  for (EventId id : pending_) world_->Cancel(id);
}

std::unique_ptr<SimTransport> SimNetwork::Attach(NodeLoop* loop) {
  KEEL_CHECK(loop != nullptr && loop->world() == world_);
  const uint64_t id = loop->node_id();
  KEEL_CHECK(endpoints_.find(id) == endpoints_.end());
  endpoints_[id] = Endpoint{loop, nullptr};
  return std::unique_ptr<SimTransport>(new SimTransport(this, loop));
}

void SimNetwork::Detach(uint64_t node) { KEEL_CHECK(endpoints_.erase(node) == 1); }

void SimNetwork::Trace(uint64_t node, std::string_view kind,
                       std::initializer_list<TraceField> detail) {
  world_->trace().Record(world_->now_ns(), node, kind, detail);
}

std::shared_ptr<SimNetwork::LinkSlots>& SimNetwork::Slots(uint64_t from, uint64_t to) {
  std::shared_ptr<LinkSlots>& slots = slots_[Link(from, to)];
  if (!slots) slots = std::make_shared<LinkSlots>();
  return slots;
}

size_t SimNetwork::in_flight(uint64_t from, uint64_t to) const {
  auto it = slots_.find(Link(from, to));
  return it == slots_.end() ? 0 : it->second->in_flight;
}

int64_t SimNetwork::Latency() {
  int64_t latency_ns =
      options_.delay_min_ns + rng_.UniformRange(0, std::max<int64_t>(0, options_.delay_jitter_ns));
  if (rng_.Chance(options_.tail_probability)) {
    ++counters_.tail_delayed;
    int k = 0;
    while (k < kMaxTailDoublings && rng_.Chance(0.5)) ++k;
    latency_ns += options_.tail_base_ns << k;
  }
  return latency_ns;
}

void SimNetwork::Send(uint64_t from, uint64_t to, std::string payload) {
  const uint64_t msg_id = next_msg_id_++;
  ++counters_.sent;
  char hash_hex[16];
  HexDigits(XXH3_64bits(payload.data(), payload.size()), hash_hex);
  Trace(from, "net.send", {{"to", to}, {"id", msg_id}, {"size", payload.size()},
                           // Hex: JSON readers (jq, JavaScript) round integers above 2^53.
                           {"hash", std::string_view(hash_hex, sizeof(hash_hex))}});
  if (observer_ != nullptr) observer_->OnSend(from, to, msg_id, payload);
  std::shared_ptr<LinkSlots>& slots = Slots(from, to);
  if (slots->in_flight >= options_.max_in_flight_per_link) {
    ++counters_.dropped_overflow;
    Trace(from, "net.drop", {{"to", to}, {"id", msg_id}, {"reason", "overflow"}});
    if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "overflow", true);
    Endpoint& sender = endpoints_.at(from);
    sender.loop->Post([this, from, to] {
      auto it = endpoints_.find(from);
      if (it != endpoints_.end() && it->second.handler != nullptr) {
        it->second.handler->OnPeerUnreachable(to);
      }
    });
    return;
  }
  if (IsBlocked(from, to)) {
    ++counters_.dropped_partition;
    Trace(from, "net.drop", {{"to", to}, {"id", msg_id}, {"reason", "partition"}});
    if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "partition", true);
    return;
  }
  if (rng_.Chance(options_.drop_probability)) {
    ++counters_.dropped_random;
    Trace(from, "net.drop", {{"to", to}, {"id", msg_id}, {"reason", "random"}});
    if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "random", true);
    return;
  }
  auto shared = std::make_shared<const std::string>(std::move(payload));
  ScheduleDelivery(from, to, msg_id, shared, /*duplicate=*/false);
  if (rng_.Chance(options_.duplicate_probability) &&
      slots->in_flight < options_.max_in_flight_per_link) {
    ++counters_.duplicated;
    ScheduleDelivery(from, to, msg_id, shared, /*duplicate=*/true);
  }
}

void SimNetwork::ScheduleDelivery(uint64_t from, uint64_t to, uint64_t msg_id,
                                  std::shared_ptr<const std::string> payload,
                                  bool duplicate) {
  const int64_t latency_ns = Latency();
  Trace(from, duplicate ? "net.dup" : "net.schedule",
        {{"to", to}, {"id", msg_id}, {"latency_ns", latency_ns}});
  auto event_id = std::make_shared<EventId>(0);
  *event_id = world_->ScheduleAfter(
      latency_ns, [this, from, to, msg_id, payload = std::move(payload),
                   hold = SlotHold(Slots(from, to)), event_id]() mutable {
        pending_.erase(*event_id);
        Arrive(from, to, msg_id, std::move(payload), std::move(hold));
      });
  pending_.insert(*event_id);
}

void SimNetwork::Arrive(uint64_t from, uint64_t to, uint64_t msg_id,
                        std::shared_ptr<const std::string> payload, SlotHold hold) {
  world_->NoteEventNode(to);  // a delivery (or its loss) concerns the receiver only
  if (IsBlocked(from, to)) {
    ++counters_.dropped_partition;
    Trace(to, "net.drop", {{"from", from}, {"id", msg_id}, {"reason", "partition"}});
    if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "partition", false);
    return;
  }
  auto it = endpoints_.find(to);
  if (it == endpoints_.end() || !it->second.loop->up()) {
    ++counters_.dropped_down;
    Trace(to, "net.drop", {{"from", from}, {"id", msg_id}, {"reason", "down"}});
    if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "down", false);
    return;
  }
  NodeLoop* loop = it->second.loop;
  // Through the loop: a paused node gets it on resume, a crash discards it (and the
  // discarded closure releases the link slot).
  loop->DeliverToIncarnation(
      loop->incarnation(),
      [this, from, to, msg_id, payload = std::move(payload), hold = std::move(hold)] {
        auto it = endpoints_.find(to);
        if (it == endpoints_.end() || it->second.handler == nullptr) {
          ++counters_.dropped_down;
          Trace(to, "net.drop", {{"from", from}, {"id", msg_id}, {"reason", "no_handler"}});
          if (observer_ != nullptr) observer_->OnDrop(from, to, msg_id, "down", false);
          return;
        }
        ++counters_.delivered;
        Trace(to, "net.deliver", {{"from", from}, {"id", msg_id}});
        if (observer_ != nullptr) observer_->OnDeliver(from, to, msg_id);
        it->second.handler->OnMessage(from, *payload);
      });
}

void SimNetwork::Block(uint64_t from, uint64_t to) {
  KEEL_CHECK(from != to);
  if (blocked_.insert(Link(from, to)).second) {
    Trace(kWorldNode, "net.block", {{"from", from}, {"to", to}});
  }
}

void SimNetwork::Unblock(uint64_t from, uint64_t to) {
  if (blocked_.erase(Link(from, to)) > 0) {
    Trace(kWorldNode, "net.unblock", {{"from", from}, {"to", to}});
  }
}

bool SimNetwork::IsBlocked(uint64_t from, uint64_t to) const {
  return blocked_.find(Link(from, to)) != blocked_.end();
}

void SimNetwork::Isolate(uint64_t node) {
  for (const auto& [other, endpoint] : endpoints_) {
    if (other == node) continue;
    Block(node, other);
    Block(other, node);
  }
}

void SimNetwork::Split(const std::vector<uint64_t>& side) {
  const std::set<uint64_t> a(side.begin(), side.end());
  for (uint64_t x : a) {
    for (const auto& [y, endpoint] : endpoints_) {
      if (a.count(y) > 0) continue;
      Block(x, y);
      Block(y, x);
    }
  }
}

void SimNetwork::StartFlapping(std::vector<Link> links, int64_t blocked_ns, int64_t open_ns) {
  KEEL_CHECK(blocked_ns > 0 && open_ns > 0);
  if (flap_event_ != 0) {
    world_->Cancel(flap_event_);
    pending_.erase(flap_event_);
    flap_event_ = 0;
  }
  flapping_links_ = std::move(links);
  flap_blocked_ns_ = blocked_ns;
  flap_open_ns_ = open_ns;
  Flap(/*block_now=*/true);
}

void SimNetwork::Flap(bool block_now) {
  for (const Link& link : flapping_links_) {
    if (block_now) {
      Block(link.first, link.second);
    } else {
      Unblock(link.first, link.second);
    }
  }
  const int64_t next_ns = block_now ? flap_blocked_ns_ : flap_open_ns_;
  flap_event_ = world_->ScheduleAfter(next_ns, [this, block_now] {
    pending_.erase(flap_event_);
    flap_event_ = 0;
    Flap(!block_now);
  });
  pending_.insert(flap_event_);
}

void SimNetwork::Heal() {
  if (flap_event_ != 0) {
    world_->Cancel(flap_event_);
    pending_.erase(flap_event_);
    flap_event_ = 0;
  }
  flapping_links_.clear();
  blocked_.clear();
  Trace(kWorldNode, "net.heal", {});
}

// ---------------------------------------------------------------------------------------

SimTransport::~SimTransport() { network_->Detach(loop_->node_id()); }

void SimTransport::SetHandler(env::TransportHandler* handler) {
  KEEL_CHECK(handler != nullptr);
  network_->endpoints_.at(loop_->node_id()).handler = handler;
}

void SimTransport::ClearHandler() { network_->endpoints_.at(loop_->node_id()).handler = nullptr; }

void SimTransport::AddPeer(uint64_t id, std::string_view address) {
  KEEL_CHECK(id != loop_->node_id());
  peers_.insert(id);
}

void SimTransport::RemovePeer(uint64_t id) { peers_.erase(id); }

void SimTransport::Send(uint64_t to, std::string payload) {
  loop_->world()->CheckOnWorldThread();
  KEEL_CHECK(loop_->up());  // a crashed process sends nothing
  if (peers_.count(to) == 0) {
    // Like a real transport with no address for `to`: nothing to send to.
    network_->Trace(loop_->node_id(), "net.drop", {{"to", to}, {"reason", "unknown_peer"}});
    return;
  }
  network_->Send(loop_->node_id(), to, std::move(payload));
}

}  // namespace keel::sim
