#pragma once
#include "detour/access_log/access_log.hpp"
#include "detour/proxy/session_record.hpp"
#include "detour/proxy/stats.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace detour::proxy {

// A worker's access log lines on their way to the writer thread. Only the worker's thread touches
// it: add() appends to a plain string with no lock, and the batch goes to the writer whole, when
// it reaches `flush_bytes` or `flush_after` after its first line (a timer on the worker's own
// io_context), whichever comes first. A batch the writer refuses (its queue is full) is dropped
// and its lines counted.
class access_log_batch {
 public:
  static constexpr std::size_t default_flush_bytes = std::size_t{64} * 1024;
  static constexpr std::chrono::milliseconds default_flush_after{100};

  access_log_batch(boost::asio::io_context& context, access_log::writer& to,
                   std::size_t flush_bytes = default_flush_bytes,
                   std::chrono::milliseconds flush_after = default_flush_after);

  // The line for a connection that ended now with `how`.
  void add(const session_record& record, outcome how);
  // Hands what is collected to the writer now (the timer's job, and the worker's last act).
  void flush();
  // Stops the timer from holding the io_context; a later add() arms it again.
  void cancel_timer() { timer_.cancel(); }

  // Lines dropped because the writer's queue was full (`detour_access_log_dropped_total`).
  const counter& dropped() const { return dropped_; }

 private:
  access_log::writer& writer_;
  const std::size_t flush_bytes_;
  const std::chrono::milliseconds flush_after_;
  std::string lines_;
  std::uint64_t line_count_ = 0;
  bool timer_armed_ = false;
  boost::asio::steady_timer timer_;
  counter dropped_;
};

}  // namespace detour::proxy
