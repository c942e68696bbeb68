#include "wsbridge/metrics/metric_set.h"

namespace wsbridge::metrics {

std::size_t close_code_slot(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1015) return code - 1000;
  if (code >= 4000 && code <= 4999) return kPrivateCloseCodeSlot;
  return kOtherCloseCodeSlot;
}

}  // namespace wsbridge::metrics
