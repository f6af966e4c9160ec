#include "client/keelctl/text_format.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::client::keelctl {

std::string HumanBytes(uint64_t size_bytes) {
  static const char* kSizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (size_bytes < 10) return absl::StrFormat("%d B", size_bytes);
  double s = static_cast<double>(size_bytes);
  int e = static_cast<int>(std::floor(std::log(s) / std::log(1000.0)));
  double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  return val < 10 ? absl::StrFormat("%.1f %s", val, kSizes[e])
                  : absl::StrFormat("%.0f %s", val, kSizes[e]);
}

namespace {
// "1.500000" -> "1.5", "2.000" -> "2".
std::string TrimFraction(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
}  // namespace

std::string GoDuration(absl::Duration d) {
  int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = static_cast<uint64_t>(ns < 0 ? -ns : ns);
  if (u < 1000) return absl::StrCat(sign, u, "ns");
  if (u < 1000000) return absl::StrCat(sign, TrimFraction(absl::StrFormat("%d.%03d", u / 1000, u % 1000)), "µs");
  if (u < 1000000000) {
    return absl::StrCat(sign, TrimFraction(absl::StrFormat("%d.%06d", u / 1000000, u % 1000000)), "ms");
  }
  uint64_t total_s = u / 1000000000, frac = u % 1000000000;
  uint64_t h = total_s / 3600, m = (total_s % 3600) / 60, s = total_s % 60;
  std::string out = sign;
  if (h > 0) absl::StrAppend(&out, h, "h");
  if (h > 0 || m > 0) absl::StrAppend(&out, m, "m");
  absl::StrAppend(&out, TrimFraction(absl::StrFormat("%d.%09d", s, frac)), "s");
  return out;
}

std::string LeaseHex(int64_t id) { return absl::StrFormat("%016x", static_cast<uint64_t>(id)); }

namespace {

size_t Runes(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Line(const std::vector<size_t>& widths) {
  std::string out = "+";
  for (size_t w : widths) absl::StrAppend(&out, std::string(w + 2, '-'), "+");
  return out + "\n";
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> titles;
  for (const auto& h : header) titles.push_back(absl::AsciiStrToUpper(h));
  std::vector<size_t> widths;
  for (const auto& t : titles) widths.push_back(Runes(t));
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], Runes(row[i]));
  }
  std::string out = Line(widths);
  out += "|";
  for (size_t i = 0; i < titles.size(); ++i) {
    size_t gap = widths[i] - Runes(titles[i]);
    size_t left = gap / 2;
    absl::StrAppend(&out, " ", std::string(left, ' '), titles[i], std::string(gap - left, ' '), " |");
  }
  out += "\n" + Line(widths);
  for (const auto& row : rows) {
    out += "|";
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      absl::StrAppend(&out, " ", std::string(widths[i] - Runes(cell), ' '), cell, " |");
    }
    out += "\n";
  }
  out += Line(widths);
  return out;
}

}  // namespace keel::client::keelctl
