// The Prometheus text exposition format (version 0.0.4) for what a scrape
// collected: the loops' summed counters, a few values read at the scrape,
// and the standard process series. Pure text building, no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "wsbridge/metrics/metric_set.h"

namespace wsbridge::metrics {

// The standard process_* series; a value that could not be read is left
// out of the output rather than reported as 0.
struct ProcessStats {
  std::optional<double> cpu_seconds;
  std::optional<std::uint64_t> resident_memory_bytes;
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> max_fds;
  std::optional<double> start_time_seconds;  // since the Unix epoch
};

struct Scrape {
  MetricTotals totals;
  std::uint64_t connections_open = 0;
  std::uint64_t log_lines_dropped = 0;
  ProcessStats process;
};

// Content-Type of the text this returns.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_exposition(const Scrape& scrape);

}  // namespace wsbridge::metrics
