#include "prom/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::prom {
namespace {

bool IsNameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':' && colon_ok) return true;
  return !first && c >= '0' && c <= '9';
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, /*colon_ok=*/true)) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;  // "__" is reserved
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, /*colon_ok=*/false)) return false;
  }
  return true;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses: the shortest
  // digits that read back as the same double, in %e form when the decimal exponent is
  // < -4 or >= 6 (2.147483648e+09, 1e-05), else in %f form (0.0001, 20000).
  char buf[64];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  KEEL_CHECK(r.ec == std::errc());
  const std::string scientific(buf, r.ptr);
  const int exponent = std::atoi(scientific.c_str() + scientific.find('e') + 1);
  if (exponent < -4 || exponent >= 6) return scientific;
  r = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  KEEL_CHECK(r.ec == std::errc());
  return std::string(buf, r.ptr);
}

namespace {

// The format's escapes: `\` and newline always, `"` in label values only.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, /*quotes=*/true); }

std::string EscapeHelp(std::string_view help) { return Escape(help, /*quotes=*/false); }

void ExpositionWriter::Family(std::string_view name, MetricType type, std::string_view help) {
  KEEL_CHECK(IsValidMetricName(name));
  KEEL_CHECK(seen_.insert(std::string(name)).second);  // one HELP/TYPE per family
  family_ = std::string(name);
  type_ = type;
  absl::StrAppend(&out_, "# HELP ", family_, " ", EscapeHelp(help), "\n# TYPE ", family_, " ",
                  TypeName(type), "\n");
}

void ExpositionWriter::Sample(const Labels& labels, double value) {
  KEEL_CHECK(!family_.empty() && type_ != MetricType::kHistogram);
  AppendSeries("", labels, nullptr, value);
}

void ExpositionWriter::Histogram(const Labels& labels, const prom::Histogram& histogram) {
  KEEL_CHECK(!family_.empty() && type_ == MetricType::kHistogram);
  const std::vector<double>& bounds = histogram.bounds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    const std::string le = FormatValue(bounds[i]);
    AppendSeries("_bucket", labels, le.c_str(), static_cast<double>(histogram.CumulativeCount(i)));
  }
  AppendSeries("_bucket", labels, "+Inf", static_cast<double>(histogram.count()));
  AppendSeries("_sum", labels, nullptr, histogram.sum());
  AppendSeries("_count", labels, nullptr, static_cast<double>(histogram.count()));
}

void ExpositionWriter::AppendSeries(std::string_view suffix, const Labels& labels,
                                    const char* le, double value) {
  out_ += family_;
  out_ += suffix;
  if (!labels.empty() || le != nullptr) {
    out_ += '{';
    bool first = true;
    for (const auto& [name, label_value] : labels) {
      KEEL_CHECK(IsValidLabelName(name) && name != "le");
      absl::StrAppend(&out_, first ? "" : ",", name, "=\"", EscapeLabelValue(label_value), "\"");
      first = false;
    }
    if (le != nullptr) absl::StrAppend(&out_, first ? "" : ",", "le=\"", le, "\"");
    out_ += '}';
  }
  absl::StrAppend(&out_, " ", FormatValue(value), "\n");
}

}  // namespace keel::prom
