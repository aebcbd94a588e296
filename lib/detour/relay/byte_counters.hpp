#pragma once
#include "detour/metrics/counter.hpp"

namespace detour::relay {

// Where a relay adds the bytes it moves, as it moves them, so that a scrape sees a long transfer
// grow instead of a jump at its end. One per route per worker.
struct byte_counters {
  metrics::counter up;    // client -> upstream
  metrics::counter down;  // upstream -> client
};

}  // namespace detour::relay
