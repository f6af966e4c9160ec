// Prints `seed trace_hash records` for a few seeds of the random workload. Run twice by
// trace_hash_probe_test.sh: two processes (different ASLR layouts, different heap
// addresses) must print the same lines, which an in-process comparison cannot show.
#include <cstdio>
#include <cstdlib>

#include "sim/random_workload.h"

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 3;
  for (int seed = 1; seed <= seeds; ++seed) {
    const keel::sim::RandomWorkloadResult r =
        keel::sim::RunRandomWorkload(seed, 2'000'000'000, nullptr);
    std::printf("%d %s %llu\n", seed, r.trace_hash.c_str(),
                static_cast<unsigned long long>(r.records));
  }
  return 0;
}
