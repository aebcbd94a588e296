#pragma once
#include "detour/metrics/counter.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace detour::relay {

// Per-worker pool of the user-space buffers a relay direction copies through (recv, then send)
// when the kernel will not give it a pipe. Like a pipe, a buffer is held only while bytes are in
// flight, so the copy path costs at most one buffer per direction moving bytes, and nothing for an
// idle connection. Not thread-safe: one pool per worker thread.
class copy_buffer_pool {
 public:
  // The kernel's default pipe size: the fallback moves bytes in the same steps as a pipe that the
  // kernel did not let grow.
  static constexpr std::size_t buffer_size = 65536;

  explicit copy_buffer_pool(std::size_t max_idle = 8) : max_idle_(max_idle) {}
  copy_buffer_pool(const copy_buffer_pool&) = delete;
  copy_buffer_pool& operator=(const copy_buffer_pool&) = delete;

  // A buffer of buffer_size bytes; give it back with release().
  char* acquire();
  void release(char* buffer);

  std::size_t idle() const { return idle_.size(); }
  // Buffers acquired and not yet given back: detour_copy_buffers_in_use.
  const metrics::gauge& in_use() const { return in_use_; }

 private:
  std::size_t max_idle_;
  std::vector<std::unique_ptr<char[]>> idle_;
  metrics::gauge in_use_;
};

}  // namespace detour::relay
