#include "sim/buggify.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace keel::sim {
namespace {

// The simulator runs one world per thread, so the current run is per thread.
thread_local Buggify* current_buggify = nullptr;

}  // namespace

Buggify::Buggify(env::Rng rng, double site_enable_probability, double fire_probability)
    : rng_(rng),
      site_enable_probability_(site_enable_probability),
      fire_probability_(fire_probability) {}

Buggify::Site& Buggify::GetSite(std::string_view file, int line) {
  const std::string label = absl::StrCat(std::string(file), ":", line);
  const uint64_t key = env::StableHash(label);
  auto it = sites_.find(key);
  if (it != sites_.end()) return it->second;
  env::Rng site_rng = rng_.Stream(label);
  const bool enabled = site_rng.Chance(site_enable_probability_);
  return sites_.emplace(key, Site{enabled, site_rng}).first->second;
}

bool Buggify::SiteEnabled(std::string_view file, int line) {
  return GetSite(file, line).enabled;
}

bool Buggify::Fires(std::string_view file, int line) {
  return Fires(file, line, fire_probability_);
}

bool Buggify::Fires(std::string_view file, int line, double fire_probability) {
  Site& site = GetSite(file, line);
  if (!site.enabled || !site.rng.Chance(fire_probability)) return false;
  ++fires_;
  return true;
}

Buggify::Scope::Scope(Buggify* buggify) : previous_(current_buggify) {
  current_buggify = buggify;
}

Buggify::Scope::~Scope() { current_buggify = previous_; }

Buggify* Buggify::Current() { return current_buggify; }

bool BuggifyFires(const char* file, int line) {
  return current_buggify != nullptr && current_buggify->Fires(file, line);
}

bool BuggifyFires(const char* file, int line, double fire_probability) {
  return current_buggify != nullptr && current_buggify->Fires(file, line, fire_probability);
}

}  // namespace keel::sim
