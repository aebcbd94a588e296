#include "detour/relay/pipe_pool.hpp"

#include "detour/relay/pipe_shortage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace detour::relay {

int pipe_kernel::create(int (&fds)[2]) { return ::pipe2(fds, O_NONBLOCK | O_CLOEXEC); }
int pipe_kernel::set_size(int fd, std::size_t size) { return ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(size)); }
int pipe_kernel::get_size(int fd) { return ::fcntl(fd, F_GETPIPE_SZ); }
void pipe_kernel::close(int fd) { ::close(fd); }

pipe_kernel& pipe_kernel::system() {
  static pipe_kernel kernel;
  return kernel;
}

pipe_pool::pipe_pool(std::size_t pipe_size, std::size_t max_idle, pipe_kernel& kernel)
    : pipe_size_(pipe_size), max_idle_(max_idle), kernel_(kernel) {}

pipe_pool::~pipe_pool() {
  for (auto p : idle_) close_pipe(p);
}

void pipe_pool::close_pipe(pipe_fds p) {
  if (p.read_fd >= 0) kernel_.close(p.read_fd);
  if (p.write_fd >= 0) kernel_.close(p.write_fd);
  bytes_.sub(p.size);
}

pipe_fds pipe_pool::acquire() {
  if (!idle_.empty()) {
    auto p = idle_.back();
    idle_.pop_back();
    in_use_.add();
    return p;
  }
  int fds[2];
  if (kernel_.create(fds) != 0) {
    const int error = errno;
    refused_.add();
    warn_pipe_shortage(pipe_shortage::no_pipe, error, wanted(), 0);
    errno = error;
    return {};
  }
  pipe_fds p{fds[0], fds[1], static_cast<std::uint32_t>(kernel_default_size)};
  if (pipe_size_ == 0) {
    // Over fs.pipe-user-pages-soft even the default is not granted: the pipe has two pages.
    const int actual = kernel_.get_size(fds[1]);
    if (actual > 0) p.size = static_cast<std::uint32_t>(actual);
  } else {
    const int granted = kernel_.set_size(fds[1], pipe_size_);
    if (granted >= 0) {
      p.size = static_cast<std::uint32_t>(granted);
    } else {
      // EPERM over fs.pipe-user-pages-soft (or above fs.pipe-max-size): the pipe keeps the size it
      // was created with, which over the soft limit is two pages, not 64 KiB.
      const int error = errno;
      const int actual = kernel_.get_size(fds[1]);
      if (actual > 0) p.size = static_cast<std::uint32_t>(actual);
      shrunk_.add();
      warn_pipe_shortage(pipe_shortage::smaller_pipe, error, pipe_size_, p.size);
    }
  }
  bytes_.add(p.size);
  in_use_.add();
  return p;
}

void pipe_pool::release(pipe_fds p) {
  in_use_.sub();
  if (idle_.size() >= max_idle_) return close_pipe(p);
  if (p.size < wanted()) {
    // A small pipe kept idle would hold pages of the user's quota; it stays only if it can
    // regrow now, as it can once other pipes have gone.
    const int granted = kernel_.set_size(p.write_fd, wanted());
    if (granted < static_cast<int>(wanted())) return close_pipe(p);
    bytes_.add(static_cast<std::int64_t>(granted) - p.size);
    p.size = static_cast<std::uint32_t>(granted);
  }
  idle_.push_back(p);
}

void pipe_pool::discard(pipe_fds p) {
  in_use_.sub();
  close_pipe(p);
}

}  // namespace detour::relay
