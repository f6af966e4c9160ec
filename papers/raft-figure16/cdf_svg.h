// Cumulative-distribution plots as standalone SVG, in the style of the Raft paper's
// Figure 16 (x = time without leader, y = cumulative percent, one line per series).
// Our own few lines of SVG instead of a plotting dependency: the build is offline.
#ifndef KEEL_PAPERS_RAFT_FIGURE16_CDF_SVG_H_
#define KEEL_PAPERS_RAFT_FIGURE16_CDF_SVG_H_

#include <string>
#include <vector>

namespace keel::papers {

struct CdfSeries {
  std::string label;
  std::vector<double> values;  // Any order; sorted by the renderer.
};

struct CdfAxis {
  bool log_scale = false;
  double min = 0;  // > 0 for a log axis
  double max = 600;
  std::vector<double> ticks;
  std::string label = "time without leader (ms)";
};

// Values beyond the axis are clamped to its edges, so a series whose tail runs off the
// plot still reaches 100% at the right border.
std::string RenderCdfSvg(const std::vector<CdfSeries>& series, const CdfAxis& x_axis,
                         const std::string& title);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_RAFT_FIGURE16_CDF_SVG_H_
