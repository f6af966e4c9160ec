// Prometheus' text exposition format 0.0.4, written family by family:
//
//   ExpositionWriter w;
//   w.Family("etcd_server_has_leader", MetricType::kGauge, "Whether or not ...");
//   w.Sample({}, 1);
//   w.Family("etcd_disk_wal_fsync_duration_seconds", MetricType::kHistogram, "...");
//   w.Histogram({}, histogram);
//   std::string text = std::move(w).Take();
//
// Escaping follows the format: HELP text escapes `\` and newline, label values escape `\`,
// `"` and newline. Values are printed as Go's strconv does for client_golang (shortest
// round-trip form, `+Inf`, `-Inf`, `NaN`), so bucket bounds read exactly as etcd's.
// Every sample must belong to the family opened last (CHECKed), each family is opened at
// most once, and names follow the metric / label name grammar (CHECKed): the output always
// passes `promtool check metrics` as far as syntax goes.
#ifndef KEEL_PROM_EXPOSITION_H_
#define KEEL_PROM_EXPOSITION_H_

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prom/histogram.h"

namespace keel::prom {

enum class MetricType { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

class ExpositionWriter {
 public:
  void Family(std::string_view name, MetricType type, std::string_view help);
  // A counter or gauge sample of the current family.
  void Sample(const Labels& labels, double value);
  // The _bucket (cumulative, `le` last among the labels), _sum and _count samples of the
  // current (histogram) family.
  void Histogram(const Labels& labels, const prom::Histogram& histogram);

  std::string Take() && { return std::move(out_); }

 private:
  void AppendSeries(std::string_view suffix, const Labels& labels, const char* le, double value);

  std::string out_;
  std::string family_;
  MetricType type_ = MetricType::kGauge;
  std::set<std::string, std::less<>> seen_;
};

// Exposed for tests.
std::string FormatValue(double value);
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace keel::prom

#endif  // KEEL_PROM_EXPOSITION_H_
