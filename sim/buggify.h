// BUGGIFY: make rare-but-legal paths common under simulation (after FoundationDB).
//
// In core code:
//     if (KEEL_BUGGIFY) batch_limit = 1;               // tiny batches
//     if (KEEL_BUGGIFY_WITH_PROB(0.01)) return early;  // a rarer site
// Each site (file:line) is enabled or not once per run, with probability
// `site_enable_probability` decided by the run seed and the site alone; an enabled site
// then fires on each evaluation with `fire_probability` (or the given one) from its own
// stream. So adding a site never changes what another site does.
//
// Unless KEEL_SIMULATION is defined the macros are the constant `false` and the branch
// compiles away, so production binaries carry none of this. Under KEEL_SIMULATION they
// consult the Buggify installed on the current thread (by the simulator, for one run) and
// are false when none is installed, so unit tests built with the define stay quiet.
//
// This header depends only on env/rng so that it can move to env/ (where the core may
// include it without depending on sim/).
#ifndef KEEL_SIM_BUGGIFY_H_
#define KEEL_SIM_BUGGIFY_H_

#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "env/rng.h"

namespace keel::sim {

class Buggify {
 public:
  explicit Buggify(env::Rng rng, double site_enable_probability = 0.25,
                   double fire_probability = 0.25);
  Buggify(const Buggify&) = delete;
  Buggify& operator=(const Buggify&) = delete;

  // Whether the site `file`:`line` fires now.
  bool Fires(std::string_view file, int line);
  bool Fires(std::string_view file, int line, double fire_probability);
  // Whether the site is enabled for this run (decided on first use; no firing draw).
  bool SiteEnabled(std::string_view file, int line);

  size_t sites_seen() const { return sites_.size(); }
  uint64_t fires() const { return fires_; }

  // Makes `buggify` the current thread's instance for the scope's lifetime.
  class Scope {
   public:
    explicit Scope(Buggify* buggify);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Buggify* const previous_;
  };
  static Buggify* Current();

 private:
  struct Site {
    bool enabled;
    env::Rng rng;
  };
  Site& GetSite(std::string_view file, int line);

  const env::Rng rng_;
  const double site_enable_probability_;
  const double fire_probability_;
  // Keyed by a stable hash of file:line; looked up, never iterated.
  absl::flat_hash_map<uint64_t, Site> sites_;
  uint64_t fires_ = 0;
};

// What the macros call: false when no Buggify is installed on this thread.
bool BuggifyFires(const char* file, int line);
bool BuggifyFires(const char* file, int line, double fire_probability);

}  // namespace keel::sim

#if defined(KEEL_SIMULATION)
#define KEEL_BUGGIFY (::keel::sim::BuggifyFires(__FILE__, __LINE__))
#define KEEL_BUGGIFY_WITH_PROB(p) (::keel::sim::BuggifyFires(__FILE__, __LINE__, (p)))
#else
#define KEEL_BUGGIFY false
#define KEEL_BUGGIFY_WITH_PROB(p) false
#endif

#endif  // KEEL_SIM_BUGGIFY_H_
