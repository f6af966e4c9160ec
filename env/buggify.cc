#include "env/buggify.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace keel::env {

namespace internal {
std::atomic<int> buggify_installed{0};
}  // namespace internal

namespace {

// The simulator runs one world per thread, so the current run is per thread.
thread_local Buggify* current_buggify = nullptr;

}  // namespace

Buggify::Buggify(env::Rng rng, double site_enable_probability, double fire_probability)
    : rng_(rng),
      site_enable_probability_(site_enable_probability),
      fire_probability_(fire_probability) {}

Buggify::Site& Buggify::GetSite(std::string_view name, std::string_view file, int line) {
  const std::pair<const void*, int> cache_key(name.data(), line);
  auto cached = by_location_.find(cache_key);
  if (cached != by_location_.end()) return *cached->second;
  const uint64_t key = env::StableHash(name);
  const std::string location = file.empty() ? std::string() : absl::StrCat(std::string(file), ":", line);
  auto it = sites_.find(key);
  if (it == sites_.end()) {
    env::Rng site_rng = rng_.Stream(name);
    const bool enabled = site_rng.Chance(site_enable_probability_);
    it = sites_.emplace(key, Site{enabled, site_rng, std::string(name), location}).first;
  } else if (!location.empty() && !it->second.location.empty() && it->second.location != location) {
    // Two places share a name: their runs would share one decision and one stream, and
    // the name would no longer say which code a seed exercised.
    std::fprintf(stderr, "BUGGIFY site name \"%s\" used at %s and at %s; names must be unique\n",
                 it->second.name.c_str(), it->second.location.c_str(), location.c_str());
    std::abort();
  }
  if (it->second.location.empty()) it->second.location = location;
  by_location_.emplace(cache_key, &it->second);
  return it->second;
}

std::vector<std::string> Buggify::EnabledSites() const {
  std::vector<std::string> enabled;
  for (const auto& [key, site] : sites_) {
    if (site.enabled) enabled.push_back(site.name);
  }
  std::sort(enabled.begin(), enabled.end());  // the map's order is not deterministic
  return enabled;
}

std::map<std::string, uint64_t> Buggify::FiresBySite() const {
  std::map<std::string, uint64_t> out;
  for (const auto& [key, site] : sites_) {
    if (site.fires > 0) out[site.name] = site.fires;
  }
  return out;
}

bool Buggify::SiteEnabled(std::string_view name) { return GetSite(name, "", 0).enabled; }

bool Buggify::Fires(std::string_view name, std::string_view file, int line) {
  return Fires(name, file, line, fire_probability_);
}

bool Buggify::Fires(std::string_view name, std::string_view file, int line,
                    double fire_probability) {
  Site& site = GetSite(name, file, line);
  if (!site.enabled || !site.rng.Chance(fire_probability)) return false;
  ++site.fires;
  ++fires_;
  return true;
}

Buggify::Scope::Scope(Buggify* buggify) : installed_(buggify), previous_(current_buggify) {
  current_buggify = buggify;
  if (installed_ != nullptr) internal::buggify_installed.fetch_add(1, std::memory_order_relaxed);
}

Buggify::Scope::~Scope() {
  current_buggify = previous_;
  if (installed_ != nullptr) internal::buggify_installed.fetch_sub(1, std::memory_order_relaxed);
}

Buggify* Buggify::Current() { return current_buggify; }

bool BuggifyFires(const char* name, const char* file, int line) {
  return current_buggify != nullptr && current_buggify->Fires(name, file, line);
}

bool BuggifyFires(const char* name, const char* file, int line, double fire_probability) {
  return current_buggify != nullptr && current_buggify->Fires(name, file, line, fire_probability);
}

}  // namespace keel::env
