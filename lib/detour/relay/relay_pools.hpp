#pragma once
#include "detour/metrics/counter.hpp"
#include "detour/relay/copy_buffer_pool.hpp"
#include "detour/relay/pipe_pool.hpp"

namespace detour::relay {

// What a worker's relays move bytes through: pipes for splice(2), and copy buffers for a direction
// that could not have a pipe. One per worker thread.
struct relay_pools {
  relay_pools() = default;
  // Pipes made by `kernel` instead of the system's (tests make it refuse).
  explicit relay_pools(pipe_kernel& kernel) : pipes(pipe_pool::default_pipe_size, 256, kernel) {}

  pipe_pool pipes;
  copy_buffer_pool buffers;
  // Times a direction carried bytes through a copy buffer because pipe2() failed:
  // detour_relay_copy_fallbacks_total.
  metrics::counter copy_fallbacks;
};

}  // namespace detour::relay
