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
// It lives in env/ (depending only on env/rng) so that the core (raft/, kv/, storage/,
// server/) may place sites without depending on sim/. keelsim installs one Buggify per
// run (sim/cluster/runner.cc), seeded from the run's seed, so a replay makes the same
// choices. The sites in the core are listed in sim/README.md ("BUGGIFY").
#ifndef KEEL_ENV_BUGGIFY_H_
#define KEEL_ENV_BUGGIFY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "env/rng.h"

namespace keel::env {

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
  // "file:line" of every site seen so far that is enabled for this run, sorted.
  std::vector<std::string> EnabledSites() const;
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
    std::string label;  // file:line
  };
  Site& GetSite(std::string_view file, int line);

  const env::Rng rng_;
  const double site_enable_probability_;
  const double fire_probability_;
  // Keyed by a stable hash of file:line; looked up, never iterated. Nodes keep their
  // address, so the location cache below can point at them.
  absl::node_hash_map<uint64_t, Site> sites_;
  // __FILE__ pointer and line -> its site, so a hot site costs one lookup instead of
  // formatting and hashing its label on every evaluation. Only a cache: a site's choices
  // come from its label's stream, whatever the pointer.
  absl::flat_hash_map<std::pair<const void*, int>, Site*> by_location_;
  uint64_t fires_ = 0;
};

// What the macros call: false when no Buggify is installed on this thread.
bool BuggifyFires(const char* file, int line);
bool BuggifyFires(const char* file, int line, double fire_probability);

}  // namespace keel::env

#if defined(KEEL_SIMULATION)
#define KEEL_BUGGIFY (::keel::env::BuggifyFires(__FILE__, __LINE__))
#define KEEL_BUGGIFY_WITH_PROB(p) (::keel::env::BuggifyFires(__FILE__, __LINE__, (p)))
#else
#define KEEL_BUGGIFY false
#define KEEL_BUGGIFY_WITH_PROB(p) false
#endif

#endif  // KEEL_ENV_BUGGIFY_H_
