// BUGGIFY: make rare-but-legal paths common under simulation (after FoundationDB).
//
// In core code:
//     if (KEEL_BUGGIFY("wal.segment_8kib")) segment_size_bytes = 8 << 10;
//     if (KEEL_BUGGIFY_WITH_PROB("server.snapshot_early", 0.02)) TakeSnapshot();
// Every site has a name, unique across the code base (buggify_names_test greps the
// sources; Buggify aborts if one name is reached from two places). Each site is enabled
// or not once per run, with probability `site_enable_probability` decided by the run seed
// and the site's NAME alone; an enabled site then fires on each evaluation with
// `fire_probability` (or the given one) from its own stream. So adding a site never
// changes what another site does, and editing a file never changes what its sites do.
//
// The same object code runs in keeld and keelsim: the macro first reads one global flag
// (`internal::buggify_installed`, non-zero only while the simulator has a Buggify
// installed on some thread) with a branch predicted not taken; keeld never installs one,
// so in production a site costs one load and one well-predicted branch. When the flag is
// set, the site consults the Buggify installed on the current thread (false when none is,
// so a unit test running beside a simulation stays quiet).
//
// It lives in env/ (depending only on env/rng) so that the core (raft/, kv/, storage/,
// server/) may place sites without depending on sim/. keelsim installs one Buggify per
// run (sim/cluster/runner.cc), seeded from the run's seed, so a replay makes the same
// choices. The sites in the core are listed, with what each does, in sim/README.md
// ("BUGGIFY").
#ifndef KEEL_ENV_BUGGIFY_H_
#define KEEL_ENV_BUGGIFY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
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

  // Whether the site `name` fires now. `file` and `line` say where the site is: they
  // only identify it for the uniqueness check (a name reached from a second place aborts
  // the process) and never influence a decision.
  bool Fires(std::string_view name, std::string_view file = "", int line = 0);
  bool Fires(std::string_view name, std::string_view file, int line, double fire_probability);
  // Whether the site is enabled for this run (decided on first use; no firing draw).
  bool SiteEnabled(std::string_view name);

  size_t sites_seen() const { return sites_.size(); }
  // Names of the sites seen so far that are enabled for this run, sorted.
  std::vector<std::string> EnabledSites() const;
  // Name -> how often it fired, for every site that fired at least once (coverage).
  std::map<std::string, uint64_t> FiresBySite() const;
  uint64_t fires() const { return fires_; }

  // Makes `buggify` the current thread's instance for the scope's lifetime (and raises
  // the global flag the macros read first while any non-null one is installed).
  class Scope {
   public:
    explicit Scope(Buggify* buggify);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Buggify* const installed_;
    Buggify* const previous_;
  };
  static Buggify* Current();

 private:
  struct Site {
    bool enabled;
    env::Rng rng;
    std::string name;
    std::string location;  // file:line of the first evaluation, for the uniqueness check
    uint64_t fires = 0;
  };
  Site& GetSite(std::string_view name, std::string_view file, int line);

  const env::Rng rng_;
  const double site_enable_probability_;
  const double fire_probability_;
  // Keyed by the name's stable hash; iterated only through sorted copies. Nodes keep
  // their address, so the cache below can point at them.
  absl::node_hash_map<uint64_t, Site> sites_;
  // (name pointer, line) -> its site, so a hot site costs one lookup instead of hashing
  // its name on every evaluation. Only a cache: a site's choices come from its name.
  absl::flat_hash_map<std::pair<const void*, int>, Site*> by_location_;
  uint64_t fires_ = 0;
};

namespace internal {
// Number of Buggify::Scope objects with a non-null instance alive in the process. Zero
// in keeld, always: only the simulator installs one.
extern std::atomic<int> buggify_installed;
}  // namespace internal

// What the macros call once the flag is up: false when no Buggify is installed on this
// thread.
bool BuggifyFires(const char* name, const char* file, int line);
bool BuggifyFires(const char* name, const char* file, int line, double fire_probability);

}  // namespace keel::env

// `name` must be a string literal, unique among all sites (see the header comment).
#define KEEL_BUGGIFY(name)                                                                 \
  (ABSL_PREDICT_FALSE(::keel::env::internal::buggify_installed.load(std::memory_order_relaxed) != 0) && \
   ::keel::env::BuggifyFires("" name, __FILE__, __LINE__))
#define KEEL_BUGGIFY_WITH_PROB(name, p)                                                    \
  (ABSL_PREDICT_FALSE(::keel::env::internal::buggify_installed.load(std::memory_order_relaxed) != 0) && \
   ::keel::env::BuggifyFires("" name, __FILE__, __LINE__, (p)))

#endif  // KEEL_ENV_BUGGIFY_H_
