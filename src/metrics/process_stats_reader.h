// Reads the standard process_* values of the calling process from /proc,
// at scrape time (a few small reads; nothing is kept between scrapes).
#pragma once
#include "wsbridge/metrics/exposition.h"

namespace wsbridge::metrics {

ProcessStats read_process_stats() noexcept;

}  // namespace wsbridge::metrics
