#pragma once
// The service manager's side of sd_notify(3), owned by a test: what systemd offers a Type=notify
// service as NOTIFY_SOCKET, so a test can check which states detourd announced and in what order.
#include "support/temp_dir.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace detour::test {

// An AF_UNIX datagram socket in a directory of its own, recording every message sent to it, in
// order of arrival, on a receive thread. The socket is mode 0777 and its directory 0755, so a
// detourd that dropped to an unprivileged user (nobody) can still send to it, as it can to
// systemd's /run/systemd/notify.
class notify_socket {
 public:
  notify_socket();
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;
  ~notify_socket();

  const std::filesystem::path& path() const { return path_; }
  // "NOTIFY_SOCKET=PATH", for a child's environment.
  std::string environment_entry() const;

  // Every message received so far, each exactly as sent ("READY=1\nSTATUS=...").
  std::vector<std::string> messages() const;
  // True once a message containing `needle` has arrived (before the call counts too); false if
  // none has within `timeout`.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) const;
  // An eventfd that is readable once a message has arrived since it was last read, for a poll()
  // that waits on something else too (a child's pidfd). Reading it is the caller's business.
  int arrival_fd() const { return arrival_; }

 private:
  void receive();

  temp_dir dir_;
  std::filesystem::path path_;
  int socket_ = -1;
  int stop_ = -1;
  int arrival_ = -1;
  std::thread receiver_;
  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<std::string> messages_;
};

}  // namespace detour::test
