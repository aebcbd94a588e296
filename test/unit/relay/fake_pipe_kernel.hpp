#pragma once
#include "detour/relay/pipe_pool.hpp"

#include <cerrno>
#include <map>
#include <set>

namespace detour::test {

// A kernel that hands out descriptor numbers without making pipes, and refuses as told: pipe2()
// with `create_error`, F_SETPIPE_SZ with EPERM beyond `max_size` (what the soft limit does to an
// unprivileged user; a refused pipe is `refused_size`, as the kernel leaves it).
class fake_pipe_kernel : public relay::pipe_kernel {
 public:
  int create_error = 0;
  std::size_t max_size = 1 << 20;
  std::size_t refused_size = 8192;
  std::set<int> open;
  std::map<int, std::size_t> sizes;  // by write end

  int create(int (&fds)[2]) override {
    if (create_error != 0) {
      errno = create_error;
      return -1;
    }
    fds[0] = next_++;
    fds[1] = next_++;
    open.insert(fds[0]);
    open.insert(fds[1]);
    sizes[fds[1]] = refused_size;
    return 0;
  }
  int set_size(int fd, std::size_t size) override {
    if (size > max_size) {
      errno = EPERM;
      return -1;
    }
    sizes[fd] = size;
    return static_cast<int>(size);
  }
  int get_size(int fd) override { return static_cast<int>(sizes.at(fd)); }
  void close(int fd) override { open.erase(fd); }

 private:
  int next_ = 1000;
};

}  // namespace detour::test
