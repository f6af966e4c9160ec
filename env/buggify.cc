#include "env/buggify.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace keel::env {
namespace {

// The simulator runs one world per thread, so the current run is per thread.
thread_local Buggify* current_buggify = nullptr;

}  // namespace

Buggify::Buggify(env::Rng rng, double site_enable_probability, double fire_probability)
    : rng_(rng),
      site_enable_probability_(site_enable_probability),
      fire_probability_(fire_probability) {}

Buggify::Site& Buggify::GetSite(std::string_view file, int line) {
  const std::pair<const void*, int> location(file.data(), line);
  auto cached = by_location_.find(location);
  if (cached != by_location_.end()) return *cached->second;
  const std::string label = absl::StrCat(std::string(file), ":", line);
  const uint64_t key = env::StableHash(label);
  auto it = sites_.find(key);
  if (it == sites_.end()) {
    env::Rng site_rng = rng_.Stream(label);
    const bool enabled = site_rng.Chance(site_enable_probability_);
    it = sites_.emplace(key, Site{enabled, site_rng, label}).first;
  }
  by_location_.emplace(location, &it->second);
  return it->second;
}

std::vector<std::string> Buggify::EnabledSites() const {
  std::vector<std::string> enabled;
  for (const auto& [key, site] : sites_) {
    if (site.enabled) enabled.push_back(site.label);
  }
  std::sort(enabled.begin(), enabled.end());  // the map's order is not deterministic
  return enabled;
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

}  // namespace keel::env
