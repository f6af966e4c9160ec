#include "papers/raft-figure16/cdf_svg.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::papers {
namespace {

constexpr double kWidth = 640, kHeight = 320;
constexpr double kLeft = 60, kRight = 170, kTop = 30, kBottom = 45;  // Margins (legend right).
// Distinguishable on white and in grey print.
const char* const kColors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                               "#e377c2", "#7f7f7f"};

double PlotX(const CdfAxis& a, double v) {
  v = std::clamp(v, a.min, a.max);
  const double f = a.log_scale ? (std::log10(v) - std::log10(a.min)) /
                                     (std::log10(a.max) - std::log10(a.min))
                               : (v - a.min) / (a.max - a.min);
  return kLeft + f * (kWidth - kLeft - kRight);
}

double PlotY(double fraction) { return kTop + (1 - fraction) * (kHeight - kTop - kBottom); }

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string RenderCdfSvg(const std::vector<CdfSeries>& series, const CdfAxis& x_axis,
                         const std::string& title) {
  assert(x_axis.max > x_axis.min);
  assert(!x_axis.log_scale || x_axis.min > 0);
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%g\" y=\"18\" font-size=\"13\">%s</text>\n",
      static_cast<int>(kWidth), static_cast<int>(kHeight), kLeft, Escape(title));
  const double x0 = kLeft, x1 = kWidth - kRight, y0 = PlotY(0), y1 = PlotY(1);
  for (int p = 0; p <= 100; p += 20) {
    const double y = PlotY(p / 100.0);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>"
                          "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%d%%</text>\n",
                          x0, y, x1, y, x0 - 5, y + 4, p);
  }
  for (double t : x_axis.ticks) {
    const double x = PlotX(x_axis, t);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>"
                          "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%g</text>\n",
                          x, y0, x, y1, x, y0 + 15, t);
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"black\"/>\n<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s%s"
                        "</text>\n<text transform=\"translate(14,%g) rotate(-90)\" "
                        "text-anchor=\"middle\">cumulative percent</text>\n",
                        x0, y1, x1 - x0, y0 - y1, (x0 + x1) / 2, kHeight - 8,
                        Escape(x_axis.label), x_axis.log_scale ? ", log scale" : "",
                        (y0 + y1) / 2);
  for (size_t i = 0; i < series.size(); ++i) {
    std::vector<double> v = series[i].values;
    std::sort(v.begin(), v.end());
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    // A step function: at each sorted value the cumulative fraction jumps by 1/n.
    std::string points = absl::StrFormat("%.1f,%.1f", PlotX(x_axis, v.empty() ? 0 : v[0]), y0);
    for (size_t k = 0; k < v.size(); ++k) {
      const double x = PlotX(x_axis, v[k]);
      absl::StrAppendFormat(&points, " %.1f,%.1f %.1f,%.1f", x, PlotY(double(k) / v.size()), x,
                            PlotY(double(k + 1) / v.size()));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                          "points=\"%s\"/>\n",
                          color, points);
    const double ly = kTop + 12 + 16 * i;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
                          "stroke-width=\"2\"/><text x=\"%g\" y=\"%g\">%s ms</text>\n",
                          x1 + 10, ly, x1 + 30, ly, color, x1 + 35, ly + 4,
                          Escape(series[i].label));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace keel::papers
