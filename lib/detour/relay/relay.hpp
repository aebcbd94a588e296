#pragma once
#include "detour/relay/pipe_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string_view>
#include <system_error>

namespace detour::relay {

// How one direction of a relay ended. EOF is the normal end, not an error.
struct direction_result {
  std::uint64_t bytes = 0;
  bool eof = false;
  std::error_code error;      // the kernel's error, on whichever socket failed
  bool error_on_write = false;  // the destination socket failed, not the source
};

// Shared by the two directions and by whoever may stop the relay from outside (the worker's idle
// sweep, shutdown). Everything runs on one worker thread, so plain members suffice.
class relay_control {
 public:
  relay_control() = default;
  relay_control(const relay_control&) = delete;
  relay_control& operator=(const relay_control&) = delete;

  // Ends both directions now: pending waits complete with operation_aborted.
  void abort();
  bool aborted() const { return aborted_; }

  void touch() { last_active_ = *clock_; }
  std::uint64_t last_active() const { return last_active_; }
  // The worker's coarse tick counter; reading it is cheaper than a clock call per chunk.
  void use_clock(const std::uint64_t* clock) {
    clock_ = clock;
    last_active_ = *clock;
  }

  void attach(boost::asio::ip::tcp::socket* a, boost::asio::ip::tcp::socket* b) {
    a_ = a;
    b_ = b;
  }

 private:
  static constexpr std::uint64_t zero_ = 0;
  const std::uint64_t* clock_ = &zero_;
  std::uint64_t last_active_ = 0;
  bool aborted_ = false;
  boost::asio::ip::tcp::socket* a_ = nullptr;
  boost::asio::ip::tcp::socket* b_ = nullptr;
};

struct relay_result {
  direction_result up;    // client -> upstream
  direction_result down;  // upstream -> client
};

// Moves bytes both ways with splice(2) (socket -> pipe -> socket, no copy through user space) until
// both directions have ended. EOF on one side becomes shutdown(SHUT_WR) on the other while the
// opposite direction keeps flowing (half-close); an error in either direction aborts both, and the
// caller decides whom to reset. `early_data` goes to the client first.
boost::asio::awaitable<relay_result> relay(boost::asio::ip::tcp::socket& client, boost::asio::ip::tcp::socket& upstream,
                                           pipe_pool& pipes, relay_control& control,
                                           std::string_view early_data = {});

}  // namespace detour::relay
