#pragma once
#include "detour/net/socket.hpp"
#include "detour/relay/byte_counters.hpp"
#include "detour/relay/relay_pools.hpp"

#include <cstdint>
#include <functional>
#include <system_error>

namespace detour::relay {

// How one direction of a relay ended. EOF is the normal end, not an error.
struct direction_result {
  std::uint64_t bytes = 0;
  bool eof = false;
  std::error_code error;        // the kernel's error, on whichever socket failed
  bool error_on_write = false;  // the destination socket failed, not the source
};

struct relay_result {
  direction_result up;          // client -> upstream
  direction_result down;        // upstream -> client
  bool up_ended_first = false;  // the client's direction ended before the upstream's
};

// Moves bytes both ways with splice(2) (socket -> pipe -> socket, no copy through user space) until
// both directions have ended. EOF on one side becomes shutdown(SHUT_WR) on the other while the
// opposite direction keeps flowing (half-close); an error in either direction aborts both, and the
// owner decides whom to reset.
//
// A direction that cannot have a pipe (pipe2() failed: out of descriptors, or over the user's pipe
// pages) copies through a bounded buffer from the worker's copy_buffer_pool instead, with recv and
// send on the same readiness waits, the same half-close and the same errors, and tries for a pipe
// again the next time bytes arrive after it has drained: a shortage of pipes slows a connection
// down, it never fails it.
//
// Driven by completion handlers rather than coroutines on purpose: an idle relayed connection then
// costs this object, its two sockets and two pending readiness waits (about 1 KiB), where a
// coroutine per direction plus a join cost several KiB of frames. It is a member of its owner,
// which hears of the end through `on_finished` and may destroy the relay from inside it.
class splice_relay {
 public:
  // Called once, when both directions have ended and nothing is pending any more. The owner then
  // closes both sockets: the FIN of the direction that ended last is left to that close.
  using completion = std::function<void()>;

  // `tick` is the owner's coarse clock: last_active() reports its value when bytes last arrived.
  // `live` gets every byte as it is written (the route's counters), beside the result's totals.
  splice_relay(net::socket client, net::socket upstream, relay_pools& pools, const std::uint64_t& tick,
               byte_counters& live, completion on_finished);
  splice_relay(const splice_relay&) = delete;
  splice_relay& operator=(const splice_relay&) = delete;

  void start();
  // Ends both directions now; `on_finished` follows once their pending waits have completed.
  void abort();

  std::uint64_t last_active() const { return last_active_; }
  relay_result result() const { return {up_.result, down_.result, up_ended_first_}; }
  net::socket& client() { return client_; }
  net::socket& upstream() { return upstream_; }

 private:
  // Which sockets a direction reads and writes follow from which direction it is; not storing
  // them keeps an idle relay small.
  enum class carrier : std::uint8_t { none, pipe, buffer };
  struct pipe_ends {
    int read_fd;
    int write_fd;
  };
  // What carries a direction's bytes in flight: a pipe, or when none could be had, a copy buffer;
  // neither while the direction waits for bytes. A direction has one or the other, never both,
  // so they share their storage and an idle relay stays the size it was before the copy path.
  struct direction {
    direction_result result;
    union {
      char* buffer = nullptr;  // carrier::buffer
      pipe_ends pipe;          // carrier::pipe
    };
    std::uint32_t pending = 0;  // bytes read and not yet written
    // carrier::pipe: the pipe's size; carrier::buffer: where the pending bytes start in it.
    std::uint32_t mark = 0;
    carrier kind = carrier::none;
    bool done = false;
  };
  // Both directions live in every relayed connection: the copy path must not make them larger
  // than a pipe-only direction was (a 40-byte result, two descriptors, a count, a flag).
  static_assert(sizeof(direction) <= 64);

  net::socket& source(const direction& d) { return &d == &up_ ? client_ : upstream_; }
  net::socket& sink(const direction& d) { return &d == &up_ ? upstream_ : client_; }
  const direction& opposite(const direction& d) const { return &d == &up_ ? down_ : up_; }
  metrics::counter& live(const direction& d) { return &d == &up_ ? live_.up : live_.down; }
  void run(direction& d);
  // Takes a pipe for `d`, or a copy buffer when the kernel will not make one.
  void take_carrier(direction& d);
  void release_carrier(direction& d);
  void end(direction& d);
  void wait(direction& d, net::socket& s, net::socket::wait_type type);

  net::socket client_;
  net::socket upstream_;
  relay_pools& pools_;
  const std::uint64_t& tick_;
  byte_counters& live_;
  std::uint64_t last_active_;
  completion on_finished_;
  direction up_;
  direction down_;
  bool aborted_ = false;
  bool up_ended_first_ = false;
};

}  // namespace detour::relay
