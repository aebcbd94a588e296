#pragma once
#include "detour/metrics/counter.hpp"

#include <cstddef>
#include <vector>

namespace detour::relay {

// A kernel pipe: the buffer splice(2) moves bytes through between two sockets.
struct pipe_fds {
  int read_fd = -1;
  int write_fd = -1;
};

// Per-worker pool of pipes. A relay direction takes a pipe only while bytes are in flight and gives
// it back once the pipe is empty, so an idle connection holds no pipe at all (HAProxy keeps its
// pipes the same way). Not thread-safe: one pool per worker thread.
class pipe_pool {
 public:
  // 256 KiB rather than the kernel's 64 KiB: a bulk transfer then costs 9 splice calls per MiB
  // instead of 34 (iperf3 through detourd, docs/BENCHMARKS.md). 1 MiB saved little more and made
  // the relay wait for readiness more often. An empty pipe holds no data pages, only its 64-slot
  // ring, so idle pipes in the pool stay cheap.
  static constexpr std::size_t default_pipe_size = std::size_t{256} * 1024;

  // pipe_size: F_SETPIPE_SZ for new pipes (0: the kernel default, 64 KiB); max_idle: how many empty
  // pipes to keep for reuse.
  explicit pipe_pool(std::size_t pipe_size = default_pipe_size, std::size_t max_idle = 256);
  ~pipe_pool();
  pipe_pool(const pipe_pool&) = delete;
  pipe_pool& operator=(const pipe_pool&) = delete;

  // A pipe, or {-1, -1} with errno set when the process is out of descriptors.
  pipe_fds acquire();
  // Only for an empty pipe; it is kept or closed.
  void release(pipe_fds p);
  // For an acquired pipe that still holds bytes nobody will read (the connection died mid-transfer).
  void discard(pipe_fds p);

  std::size_t pipe_size() const { return pipe_size_; }
  // Pipes acquired and not yet given back: detour_pipes_in_use, summed over workers.
  const metrics::gauge& in_use() const { return in_use_; }

 private:
  std::size_t pipe_size_;
  std::size_t max_idle_;
  std::vector<pipe_fds> idle_;
  metrics::gauge in_use_;
};

}  // namespace detour::relay
