#include "detour/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace detour::relay {

namespace {

void close_pipe(pipe_fds p) {
  if (p.read_fd >= 0) ::close(p.read_fd);
  if (p.write_fd >= 0) ::close(p.write_fd);
}

}  // namespace

pipe_pool::pipe_pool(std::size_t pipe_size, std::size_t max_idle) : pipe_size_(pipe_size), max_idle_(max_idle) {}

pipe_pool::~pipe_pool() {
  for (auto p : idle_) close_pipe(p);
}

pipe_fds pipe_pool::acquire() {
  if (!idle_.empty()) {
    auto p = idle_.back();
    idle_.pop_back();
    in_use_.add();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  if (pipe_size_ != 0) {
    // Best effort: an unprivileged process is capped by /proc/sys/fs/pipe-max-size.
    (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
  }
  in_use_.add();
  return {fds[0], fds[1]};
}

void pipe_pool::release(pipe_fds p) {
  in_use_.sub();
  if (idle_.size() < max_idle_) {
    idle_.push_back(p);
  } else {
    close_pipe(p);
  }
}

void pipe_pool::discard(pipe_fds p) {
  in_use_.sub();
  close_pipe(p);
}

}  // namespace detour::relay
