// A simulated peer network shared by every node of a cluster, and each node's
// env::Transport onto it.
//
// A message sent from A to B is, in this order: refused if the A→B link already holds
// max_in_flight_per_link messages (the sender gets OnPeerUnreachable), dropped if A→B is
// blocked by a partition, dropped with drop_probability, otherwise delivered after a
// random latency (which reorders messages), and with duplicate_probability delivered a
// second time after an independent latency. On arrival it is dropped if A→B became
// blocked meanwhile or B is down; if B is paused it waits in B's loop until B resumes.
// A message counts against the link's in-flight bound until B's handler has run (or the
// message was dropped), so a paused node cannot accumulate unbounded mail.
//
// Latency: delay_min_ns + uniform jitter in [0, delay_jitter_ns], plus, with
// tail_probability, a heavy tail tail_base_ns × 2^k with k geometric (P(k) = 2^-(k+1),
// capped at 10). Integer-only, so identical on every machine.
//
// Partitions are a set of blocked directed links. Isolate, Split and Block add to it;
// Heal clears it and stops flapping. Flapping toggles a given set of links on and off on a
// fixed schedule until Heal.
#ifndef KEEL_SIM_NETWORK_H_
#define KEEL_SIM_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "env/env.h"
#include "env/rng.h"
#include "sim/node_loop.h"
#include "sim/world.h"

namespace keel::sim {

struct NetworkOptions {
  int64_t delay_min_ns = 100'000;
  int64_t delay_jitter_ns = 400'000;
  double tail_probability = 0.01;
  int64_t tail_base_ns = 5'000'000;
  double drop_probability = 0;
  double duplicate_probability = 0;
  size_t max_in_flight_per_link = 1024;
};

struct NetworkCounters {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped_random = 0;
  uint64_t dropped_partition = 0;
  uint64_t dropped_overflow = 0;
  uint64_t dropped_down = 0;
  uint64_t duplicated = 0;
  uint64_t tail_delayed = 0;  // given a heavy-tail delay (tail_probability)
};

using Link = std::pair<uint64_t, uint64_t>;  // (from, to)

// Sees every message's fate by the network's message id (the `id` of net.* records).
// sim/cluster/raft_trace uses it to trace Raft messages. Called on the world thread, after
// the matching net.* record; a duplicated message may be delivered or dropped twice.
class MessageObserver {
 public:
  virtual ~MessageObserver() = default;
  virtual void OnSend(uint64_t from, uint64_t to, uint64_t id, std::string_view payload) = 0;
  virtual void OnDeliver(uint64_t from, uint64_t to, uint64_t id) = 0;
  // `at_send`: refused when sent (else lost on arrival).
  virtual void OnDrop(uint64_t from, uint64_t to, uint64_t id, std::string_view reason,
                      bool at_send) = 0;
};

class SimTransport;

class SimNetwork {
 public:
  // `world` must outlive the network; the network must outlive its transports.
  SimNetwork(World* world, NetworkOptions options, env::Rng rng);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // The Transport of node `loop->node_id()`; one per node, which must not be registered
  // yet. `loop` must outlive the transport.
  std::unique_ptr<SimTransport> Attach(NodeLoop* loop);

  // Partitions. Links are directed; all are between attached nodes.
  void Block(uint64_t from, uint64_t to);
  void Unblock(uint64_t from, uint64_t to);
  // Blocks every link to and from `node`.
  void Isolate(uint64_t node);
  // Blocks every link between `side` and the other attached nodes, both directions.
  void Split(const std::vector<uint64_t>& side);
  // Toggles `links` blocked/unblocked every period, starting blocked now. Replaces any
  // earlier flapping.
  void StartFlapping(std::vector<Link> links, int64_t blocked_ns, int64_t open_ns);
  // Unblocks everything and stops flapping.
  void Heal();
  bool IsBlocked(uint64_t from, uint64_t to) const;

  // Not owned; nullptr (the default) for none. Must outlive its registration.
  void set_observer(MessageObserver* observer) { observer_ = observer; }
  MessageObserver* observer() const { return observer_; }
  void set_options(const NetworkOptions& options) { options_ = options; }
  const NetworkCounters& counters() const { return counters_; }
  size_t in_flight(uint64_t from, uint64_t to) const;

 private:
  friend class SimTransport;
  struct Endpoint {
    NodeLoop* loop = nullptr;
    env::TransportHandler* handler = nullptr;
  };
  // Shared with queued deliveries so a discarded delivery still releases its slot.
  struct LinkSlots {
    size_t in_flight = 0;
  };
  // Releases one in-flight slot when destroyed, whether the message was handled or its
  // delivery was discarded by a crash.
  class SlotHold {
   public:
    explicit SlotHold(std::shared_ptr<LinkSlots> slots) : slots_(std::move(slots)) {
      ++slots_->in_flight;
    }
    ~SlotHold() {
      if (slots_) --slots_->in_flight;
    }
    SlotHold(SlotHold&& other) = default;
    SlotHold& operator=(SlotHold&&) = delete;

   private:
    std::shared_ptr<LinkSlots> slots_;
  };

  void Send(uint64_t from, uint64_t to, std::string payload);
  void Detach(uint64_t node);
  int64_t Latency();
  void ScheduleDelivery(uint64_t from, uint64_t to, uint64_t msg_id,
                        std::shared_ptr<const std::string> payload, bool duplicate);
  void Arrive(uint64_t from, uint64_t to, uint64_t msg_id,
              std::shared_ptr<const std::string> payload, SlotHold hold);
  void Flap(bool block_now);
  std::shared_ptr<LinkSlots>& Slots(uint64_t from, uint64_t to);
  void Trace(uint64_t node, std::string_view kind, std::initializer_list<TraceField> detail);

  World* const world_;
  NetworkOptions options_;
  env::Rng rng_;
  std::map<uint64_t, Endpoint> endpoints_;
  std::map<Link, std::shared_ptr<LinkSlots>> slots_;
  std::set<Link> blocked_;
  // Events in the world queue that point at this network (deliveries, flaps). Only
  // iterated to cancel them all, where order does not matter.
  absl::flat_hash_set<EventId> pending_;
  std::vector<Link> flapping_links_;
  int64_t flap_blocked_ns_ = 0;
  int64_t flap_open_ns_ = 0;
  EventId flap_event_ = 0;
  uint64_t next_msg_id_ = 1;
  NetworkCounters counters_;
  MessageObserver* observer_ = nullptr;
};

// One node's view of the SimNetwork.
class SimTransport final : public env::Transport {
 public:
  ~SimTransport() override;
  void SetHandler(env::TransportHandler* handler) override;
  void AddPeer(uint64_t id, std::string_view address) override;
  void RemovePeer(uint64_t id) override;
  void Send(uint64_t to, std::string payload) override;

  // After a crash the old handler is gone; the restarted process calls SetHandler again.
  void ClearHandler();

 private:
  friend class SimNetwork;
  SimTransport(SimNetwork* network, NodeLoop* loop) : network_(network), loop_(loop) {}

  SimNetwork* const network_;
  NodeLoop* const loop_;
  std::set<uint64_t> peers_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_NETWORK_H_
