#pragma once
#include "detour/metrics/counter.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace detour::relay {

// A kernel pipe: the buffer splice(2) moves bytes through between two sockets, and how many bytes
// it holds (the kernel may have given less than was asked for).
struct pipe_fds {
  int read_fd = -1;
  int write_fd = -1;
  std::uint32_t size = 0;
};

// The system calls behind the pool, so that unit tests can make the kernel refuse. Each returns
// what the call returns, -1 with errno set on failure.
class pipe_kernel {
 public:
  virtual ~pipe_kernel() = default;
  virtual int create(int (&fds)[2]);               // pipe2(O_NONBLOCK | O_CLOEXEC)
  virtual int set_size(int fd, std::size_t size);  // F_SETPIPE_SZ
  virtual int get_size(int fd);                    // F_GETPIPE_SZ
  virtual void close(int fd);
  // The kernel itself: what a pool uses unless told otherwise.
  static pipe_kernel& system();
};

// Per-worker pool of pipes. A relay direction takes a pipe only while bytes are in flight and gives
// it back once the pipe is empty, so an idle connection holds no pipe at all (HAProxy keeps its
// pipes the same way). Not thread-safe: one pool per worker thread.
//
// The kernel can refuse a pipe in two ways, and the pool says which: pipe2() fails (EMFILE, ENFILE:
// out of descriptors, or over fs.pipe-user-pages-hard), and acquire() returns no pipe, so the relay
// falls back to copying; or F_SETPIPE_SZ fails (EPERM once the user is over
// fs.pipe-user-pages-soft without CAP_SYS_RESOURCE), and the pipe is smaller than asked: the kernel
// leaves it at 64 KiB, or at two pages when the user was over the limit already. Such a pipe serves
// its connection but is not kept once empty unless it can regrow, since it holds the user's pages
// that a full-size pipe might get later.
class pipe_pool {
 public:
  // 256 KiB rather than the kernel's 64 KiB: a bulk transfer then costs 9 splice calls per MiB
  // instead of 34 (iperf3 through detourd, docs/BENCHMARKS.md). 1 MiB saved little more and made
  // the relay wait for readiness more often. An empty pipe holds no data pages, only its 64-slot
  // ring, so idle pipes in the pool stay cheap.
  static constexpr std::size_t default_pipe_size = std::size_t{256} * 1024;
  // What a pipe holds when nobody asked for more: the kernel's default.
  static constexpr std::size_t kernel_default_size = 65536;

  // pipe_size: F_SETPIPE_SZ for new pipes (0: the kernel default, 64 KiB); max_idle: how many empty
  // pipes to keep for reuse.
  explicit pipe_pool(std::size_t pipe_size = default_pipe_size, std::size_t max_idle = 256,
                     pipe_kernel& kernel = pipe_kernel::system());
  ~pipe_pool();
  pipe_pool(const pipe_pool&) = delete;
  pipe_pool& operator=(const pipe_pool&) = delete;

  // A pipe, or {-1, -1, 0} with errno set when the kernel would not make one (pipe2's errno).
  pipe_fds acquire();
  // Only for an empty pipe; it is kept or closed.
  void release(pipe_fds p);
  // For an acquired pipe that still holds bytes nobody will read (the connection died mid-transfer).
  void discard(pipe_fds p);

  std::size_t pipe_size() const { return pipe_size_; }
  std::size_t idle() const { return idle_.size(); }
  // Pipes acquired and not yet given back: detour_pipes_in_use, summed over workers.
  const metrics::gauge& in_use() const { return in_use_; }
  // What the pipes this pool holds (in use and idle) can hold, in bytes: detour_pipe_bytes.
  const metrics::gauge& bytes() const { return bytes_; }
  // Pipes the kernel gave smaller than asked: detour_pipes_shrunk_total.
  const metrics::counter& shrunk() const { return shrunk_; }
  // pipe2() failures: the acquisitions that had to do without a pipe.
  const metrics::counter& refused() const { return refused_; }

 private:
  std::size_t wanted() const { return pipe_size_ != 0 ? pipe_size_ : kernel_default_size; }
  void close_pipe(pipe_fds p);

  std::size_t pipe_size_;
  std::size_t max_idle_;
  pipe_kernel& kernel_;
  std::vector<pipe_fds> idle_;
  metrics::gauge in_use_;
  metrics::gauge bytes_;
  metrics::counter shrunk_;
  metrics::counter refused_;
};

}  // namespace detour::relay
