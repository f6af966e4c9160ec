// Random linearizable histories for property tests and benchmarks (testonly).
//
// Clients issue operations against a sequential etcd key model (the "real" store). Each
// operation takes effect at one random instant between its invocation and its completion,
// interleaved at random with other clients' operations, so the history is linearizable by
// construction. Some responses are lost (outcome kUnknown; the op took effect or not) and
// some ops fail before taking effect (kFailed). Revisions are assigned as etcd would.
#ifndef KEEL_SIM_CHECKERS_RANDOM_HISTORY_H_
#define KEEL_SIM_CHECKERS_RANDOM_HISTORY_H_

#include <cstdint>

#include "env/rng.h"
#include "sim/checkers/history.h"

namespace keel::sim::checkers {

struct RandomHistoryOptions {
  int clients = 5;
  int keys = 20;
  int operations = 1000;
  double unknown_probability = 0.02;
  double failed_probability = 0.01;
  // Fraction of reads that are multi-key ranges (the rest of the mix is fixed).
  double range_probability = 0.05;
};

History GenerateLinearizableHistory(const RandomHistoryOptions& options, env::Rng* rng);

// Changes one acknowledged single-key get so its answer differs from what the store held
// (another value, or found/not-found flipped). Returns false if there is no such get.
bool MutateOneRead(History* history, env::Rng* rng);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_RANDOM_HISTORY_H_
