#include "detour/access_log/access_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace detour::access_log {

namespace {

int open_for_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw open_error(fmt::format("access log {}: cannot open for appending: {}", path,
                                 std::error_code(errno, std::generic_category()).message()));
  }
  return fd;
}

}  // namespace

writer::writer(std::string path, std::size_t queue_limit)
    : path_(std::move(path)), queue_limit_(queue_limit), fd_(path_.empty() ? STDOUT_FILENO : open_for_append(path_)) {}

void writer::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

writer::~writer() {
  stop();
  if (fd_ != STDOUT_FILENO) ::close(fd_);
  for (const auto& i : queue_) {
    if (i.reopened >= 0) ::close(i.reopened);  // a reopen() after stop()
  }
}

bool writer::submit(std::string&& lines) {
  if (lines.empty()) return true;
  {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ >= queue_limit_) return false;
    queued_bytes_ += lines.size();
    queue_.push_back({std::move(lines)});
  }
  wake_.notify_one();
  lines.clear();
  return true;
}

void writer::reopen() {
  if (path_.empty()) return;
  int fd = open_for_append(path_);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({{}, fd});
  }
  wake_.notify_one();
}

void writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    run();  // never started: what was queued is written here, and run() returns once it is
  }
}

void writer::run() {
  std::vector<item> taken;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    for (auto& i : queue_) taken.push_back(std::move(i));
    queue_.clear();
    lock.unlock();
    std::size_t written = 0;
    for (const auto& i : taken) {
      if (i.reopened >= 0) {
        if (fd_ != STDOUT_FILENO) ::close(fd_);
        fd_ = i.reopened;
        continue;
      }
      write_all(i.lines);
      written += i.lines.size();
    }
    taken.clear();
    lock.lock();
    queued_bytes_ -= written;
  }
}

void writer::write_all(const std::string& lines) {
  const char* data = lines.data();
  std::size_t left = lines.size();
  while (left > 0) {
    auto n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // A full disk, say: what cannot be written is lost, but the log says so, once per outage.
      if (!failing_) {
        spdlog::error("access log {}: write failed: {}; dropping lines until writing works again", name(),
                      std::error_code(errno, std::generic_category()).message());
      }
      failing_ = true;
      return;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (failing_) spdlog::info("access log {}: writing again", name());
  failing_ = false;
}

}  // namespace detour::access_log
