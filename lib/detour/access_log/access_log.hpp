#pragma once
#include "detour/error.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace detour::access_log {

// The access log file cannot be opened or reopened; what() names the path and the errno text.
class open_error : public detour::error {
 public:
  using detour::error::error;
};

// The one thread that writes the access log. Workers never write themselves: each collects its
// lines in a batch of its own and hands the whole batch over with submit(), which holds the lock
// only to move the string into the queue. Batches are written in the order they were submitted,
// so one worker's lines keep their order. Everything submitted before stop() is written.
class writer {
 public:
  static constexpr std::size_t default_queue_limit = std::size_t{8} * 1024 * 1024;

  // Appends to `path` (created with mode 0640), or to standard output when `path` is empty.
  // Throws open_error. The file is opened here and written from start() on: detourd opens it
  // while it may still be root and starts the thread once privileges are dropped, since a thread
  // created before the drop would keep the capabilities. Batches that arrive while `queue_limit` bytes are already
  // waiting are refused, so a disk that cannot keep up costs lines, never memory or a blocked worker.
  explicit writer(std::string path, std::size_t queue_limit = default_queue_limit);
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  // Starts the writing thread; lines submitted before it wait for it. Idempotent.
  void start();
  // Thread-safe. Takes `lines` (whole lines, each ending in '\n') unless the queue is over its
  // limit: then returns false and leaves `lines` as it was, for the caller to count and drop.
  bool submit(std::string&& lines);
  // Thread-safe: opens the path again, for logrotate (rename the file, then SIGUSR1). Lines
  // submitted after it returns go to the new file; those before, to the old one. Throws
  // open_error, and then the old file stays in use. Does nothing for standard output.
  void reopen();
  // Writes everything queued, then ends the thread (or writes it here if start() was never
  // called). Idempotent; the destructor calls it.
  void stop();

  // "stdout", or the file's path.
  std::string name() const { return path_.empty() ? "stdout" : path_; }

 private:
  // Lines to write, or (reopened >= 0) the descriptor to write the lines after it to: a reopen
  // waits in the queue behind the lines submitted before it.
  struct item {
    std::string lines;
    int reopened = -1;
  };

  void run();
  void write_all(const std::string& lines);

  const std::string path_;
  const std::size_t queue_limit_;
  int fd_ = -1;  // the writer thread's
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<item> queue_;
  std::size_t queued_bytes_ = 0;  // queued or being written
  bool stopping_ = false;
  bool failing_ = false;  // a write failed; warned once until one succeeds again
  std::thread thread_;
};

}  // namespace detour::access_log
