#include "sim/keelsim/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::sim {

absl::StatusOr<CorpusEntry> ParseCorpusEntry(const std::string& path, const std::string& text) {
  std::map<std::string, std::string> fields;
  std::string* last = nullptr;
  size_t number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    if (absl::StartsWith(line, "  ") && last != nullptr) {  // a continuation line
      absl::StrAppend(last, last->empty() ? "" : " ", absl::StripAsciiWhitespace(line));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": not `key: value`"));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, colon)));
    if (fields.count(key) > 0) return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", key, " twice"));
    last = &fields[key];
    *last = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  CorpusEntry e;
  e.path = path;
  const std::pair<const char*, std::string*> known[] = {
      {"checker", &e.checker}, {"found_at", &e.found_at}, {"fixed_by", &e.fixed_by}, {"faults", &e.faults},
      {"bug", &e.bug},         {"what", &e.what},         {"fix", &e.fix}};
  std::string seed;
  for (auto& [key, value] : fields) {
    if (key == "seed") {
      seed = value;
      continue;
    }
    const auto* it = std::find_if(std::begin(known), std::end(known), [&](const auto& k) { return key == k.first; });
    if (it == std::end(known)) return absl::InvalidArgumentError(absl::StrCat(path, ": unknown key '", key, "'"));
    *it->second = value;
  }
  if (!absl::SimpleAtoi(seed, &e.seed)) return absl::InvalidArgumentError(absl::StrCat(path, ": no numeric seed"));
  for (const auto& [key, value] : known) {
    if (std::string(key) != "bug" && value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": '", key, "' is required"));
    }
  }
  return e;
}

absl::StatusOr<std::vector<CorpusEntry>> LoadCorpus(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> paths;
  for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
    if (file.path().extension() == ".seed") paths.push_back(file.path().string());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(paths.begin(), paths.end());
  std::vector<CorpusEntry> entries;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    if (!in) return absl::DataLossError(absl::StrCat("cannot read ", path));
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<CorpusEntry> e = ParseCorpusEntry(path, text.str());
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
  }
  if (entries.empty()) return absl::NotFoundError(absl::StrCat("no *.seed files in ", dir));
  return entries;
}

}  // namespace keel::sim
