#pragma once
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
  // pipe_size: F_SETPIPE_SZ for new pipes (0: the kernel default, 64 KiB); max_idle: how many empty
  // pipes to keep for reuse.
  explicit pipe_pool(std::size_t pipe_size = 0, std::size_t max_idle = 256);
  ~pipe_pool();
  pipe_pool(const pipe_pool&) = delete;
  pipe_pool& operator=(const pipe_pool&) = delete;

  // A pipe, or {-1, -1} with errno set when the process is out of descriptors.
  pipe_fds acquire();
  // Only for an empty pipe; it is kept or closed.
  void release(pipe_fds p);
  // For a pipe that still holds bytes nobody will read (the connection died mid-transfer).
  static void discard(pipe_fds p);

  std::size_t idle() const { return idle_.size(); }
  std::size_t pipe_size() const { return pipe_size_; }

 private:
  std::size_t pipe_size_;
  std::size_t max_idle_;
  std::vector<pipe_fds> idle_;
};

}  // namespace detour::relay
