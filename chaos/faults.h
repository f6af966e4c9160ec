// The faults keelchaos injects into a real cluster, named as the simulator names them
// (sim/cluster/scenario.cc FaultKindName) where one exists, and the seeded schedule.
//
//   crash           kill -9 one random member; heal: restart it on its data dir
//   crash_leader    kill -9 the leader; heal: restart
//   crash_majority  kill -9 floor(n/2)+1 random members; heal: restart them
//   pause           SIGSTOP one random member for longer than the election timeout; heal: SIGCONT
//   pause_leader    SIGSTOP the leader (it must not serve anything stale when it wakes up)
//   isolate         one member (the leader half of the time) loses every peer link both ways
//   split           the members split into a minority and a majority (leader on either side)
//   asymmetric      one member (the leader half of the time) can hear its peers but its own
//                   bytes to them stall (one direction only)
//   flap            one member is isolated and reconnected at seeded 100-400 ms intervals
//   cut             every peer connection is closed, repeatedly (300 ms), members redial
//   cut_clients     every client connection is closed, repeatedly (300 ms), mid-request:
//                   the client must report "unknown", never a wrong answer
//   move_leader     MoveLeader to a random follower during load (nothing to heal)
//   replace         membership churn: MemberRemove a follower, kill it, wipe its data dir,
//                   MemberAdd it back as a learner (same peer URL, new id) and restart it
//                   empty; heal: MemberPromote once it has caught up
// Not here yet (see README.md): disk failpoints.
#ifndef KEEL_CHAOS_FAULTS_H_
#define KEEL_CHAOS_FAULTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chaos/chaos_cluster.h"
#include "client/client.h"
#include "env/rng.h"

namespace keel::chaos {

enum class FaultKind {
  kCrash,
  kCrashLeader,
  kCrashMajority,
  kPause,
  kPauseLeader,
  kIsolate,
  kSplit,
  kAsymmetric,
  kFlap,
  kCut,
  kMoveLeader,
  kReplace,
  kCutClients,
};

const char* FaultName(FaultKind kind);
// "all" or a comma list of names.
absl::StatusOr<std::vector<FaultKind>> ParseFaults(const std::string& list);

// One round's fault, chosen from the seed and the leader at the time.
struct FaultPlan {
  FaultKind kind = FaultKind::kCrash;
  std::vector<int> members;  // the members the fault acts on (the minority side for split)
  absl::Duration duration;
  uint64_t flap_seed = 0;
  std::string Describe(const ChaosCluster& cluster) const;
};

// Cycles through `kinds` in a seeded order (each cycle reshuffled), so every kind fires
// once per cycle; targets and durations come from the same seed.
class FaultSchedule {
 public:
  FaultSchedule(std::vector<FaultKind> kinds, uint64_t seed, int election_ms);
  FaultPlan Next(int nodes, int leader);
  // True once every kind has been planned at least once.
  bool CoveredAll() const { return cycles_ >= 1; }

 private:
  std::vector<FaultKind> kinds_;
  std::vector<FaultKind> order_;
  size_t next_ = 0;
  int cycles_ = 0;
  env::Rng rng_;
  int election_ms_;
};

// Applies a plan to the cluster and heals it. Tick() drives time-varying faults (flap, cut)
// and must be called every few tens of milliseconds during the fault window.
class FaultInjector {
 public:
  FaultInjector(ChaosCluster* cluster, client::Client* admin) : cluster_(cluster), admin_(admin) {}
  // Returns a note for the round line (e.g. MoveLeader's outcome); errors are harness errors.
  absl::StatusOr<std::string> Apply(const FaultPlan& plan);
  void Tick();
  absl::Status Heal();
  // What went wrong in the last Heal that a healthy cluster would not do (a learner that
  // could not be promoted in time); empty if nothing.
  const std::string& heal_problem() const { return heal_problem_; }

 private:
  absl::StatusOr<std::string> Replace(int member);
  void PromoteLearner();
  void SetIsolated(int member, bool isolated);

  ChaosCluster* cluster_;
  client::Client* admin_;
  FaultPlan plan_;
  bool active_ = false;
  env::Rng flap_rng_{0};
  absl::Time next_toggle_;
  bool flap_isolated_ = false;
  uint64_t learner_id_ = 0;  // replace: the re-added member, promoted at heal
  std::string heal_problem_;
};

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_FAULTS_H_
