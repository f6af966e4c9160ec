// The small Go formatting conventions etcdctl's output depends on.
#ifndef KEEL_CLIENT_KEELCTL_TEXT_FORMAT_H_
#define KEEL_CLIENT_KEELCTL_TEXT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace keel::client::keelctl {

// go-humanize's Bytes (SI units): 20480 -> "20 kB", 1500000 -> "1.5 MB", 7 -> "7 B".
std::string HumanBytes(uint64_t size_bytes);
// Go's time.Duration.String(): "866.336µs", "1.122668ms", "2.5s", "1m30s".
std::string GoDuration(absl::Duration d);
// %016x, as etcdctl prints lease IDs.
std::string LeaseHex(int64_t id);
// olekukonko/tablewriter as etcdctl configures it: titles upper-cased and centered, cells
// right-aligned, +---+ borders. Widths count runes, not bytes.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_TEXT_FORMAT_H_
