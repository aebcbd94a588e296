#include "support/notify_socket.hpp"

#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace detour::test {

namespace {

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

void signal_eventfd(int fd) {
  std::uint64_t one = 1;
  // Only fails when the counter would overflow, and then the descriptor is readable anyway.
  [[maybe_unused]] auto written = ::write(fd, &one, sizeof one);
}

}  // namespace

notify_socket::notify_socket() : path_(dir_.path() / "notify.sock") {
  sockaddr_un addr{};
  if (path_.native().size() >= sizeof addr.sun_path) {
    throw std::runtime_error(fmt::format("notify socket path too long: {}", path_.string()));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.native().size());
  socket_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  stop_ = ::eventfd(0, EFD_CLOEXEC);
  arrival_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  try {
    if (socket_ < 0 || stop_ < 0 || arrival_ < 0) throw_errno("socket/eventfd for the notify socket");
    if (::bind(socket_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw_errno(fmt::format("bind {}", path_.string()));
    }
    // Not umask's business: the sender may be another user (see the class comment).
    if (::chmod(path_.c_str(), 0777) != 0) throw_errno(fmt::format("chmod {}", path_.string()));
    if (::chmod(dir_.path().c_str(), 0755) != 0) throw_errno(fmt::format("chmod {}", dir_.path().string()));
    receiver_ = std::thread([this] { receive(); });
  } catch (...) {
    close_all({socket_, stop_, arrival_});
    throw;
  }
}

notify_socket::~notify_socket() {
  signal_eventfd(stop_);
  receiver_.join();
  close_all({socket_, stop_, arrival_});
}

std::string notify_socket::environment_entry() const { return fmt::format("NOTIFY_SOCKET={}", path_.string()); }

std::vector<std::string> notify_socket::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

bool notify_socket::wait_for(std::string_view needle, std::chrono::milliseconds timeout) const {
  auto seen = [&] {
    for (const auto& m : messages_) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, seen);
}

void notify_socket::receive() {
  // sd_notify messages are a few hundred bytes; systemd itself reads at most a page's worth more.
  std::array<char, 16384> buffer{};
  for (;;) {
    std::array<pollfd, 2> polls{{{socket_, POLLIN, 0}, {stop_, POLLIN, 0}}};
    if (::poll(polls.data(), polls.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (polls[1].revents != 0) return;
    ssize_t got = ::recv(socket_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;
    }
    {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(buffer.data(), static_cast<std::size_t>(got));
    }
    arrived_.notify_all();
    signal_eventfd(arrival_);
  }
}

}  // namespace detour::test
