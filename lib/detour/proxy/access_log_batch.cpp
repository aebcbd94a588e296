#include "detour/proxy/access_log_batch.hpp"

#include "detour/proxy/access_log_entry.hpp"

namespace detour::proxy {

access_log_batch::access_log_batch(boost::asio::io_context& context, access_log::writer& to, std::size_t flush_bytes,
                                   std::chrono::milliseconds flush_after)
    : writer_(to), flush_bytes_(flush_bytes), flush_after_(flush_after), timer_(context) {}

void access_log_batch::add(const session_record& record, outcome how) {
  append_access_log_entry(lines_, record, how, std::chrono::system_clock::now());
  ++line_count_;
  if (lines_.size() >= flush_bytes_) {
    flush();
    return;
  }
  if (timer_armed_) return;
  // Armed by the first line only: an idle worker has no timer firing.
  timer_armed_ = true;
  timer_.expires_after(flush_after_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    timer_armed_ = false;
    if (!ec) flush();
  });
}

void access_log_batch::flush() {
  if (lines_.empty()) return;
  if (!writer_.submit(std::move(lines_))) {
    dropped_.add(line_count_);
    lines_.clear();
  }
  line_count_ = 0;
}

}  // namespace detour::proxy
