#include "detour/proxy/name_sniff.hpp"

#include "detour/net/socket_options.hpp"
#include "detour/sniff/sniffer.hpp"

#include <sys/socket.h>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <span>

namespace detour::proxy {

namespace asio = boost::asio;

namespace {

using timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                                         asio::io_context::executor_type>;

// One per worker thread rather than one per session: a session uses it only between a peek and the
// sniffer's answer, with no suspension in between, and 16 KiB on each of thousands of sessions
// would be most of their memory.
std::span<char> peek_buffer() {
  thread_local std::array<char, sniff::sniff_bound> buffer;
  return buffer;
}

sniff_outcome outcome_of(sniff::sniff_status status) {
  switch (status) {
    case sniff::sniff_status::found:
      return sniff_outcome::found;
    case sniff::sniff_status::no_name:
      return sniff_outcome::no_name;
    case sniff::sniff_status::malformed:
      return sniff_outcome::malformed;
    case sniff::sniff_status::too_long:
    case sniff::sniff_status::need_more:
      break;
    case sniff::sniff_status::not_recognized:
      return sniff_outcome::not_recognized;
  }
  return sniff_outcome::too_long;
}

}  // namespace

asio::awaitable<sniffed> sniff_server_name(net::socket& client, std::chrono::milliseconds timeout,
                                           const bool& stopped) {
  const int fd = client.native_handle();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  timer wake_up(client.get_executor());
  sniffed out;
  int low_water = 1;
  bool woken = false;
  for (;;) {
    if (stopped) {
      out.how = sniff_outcome::cancelled;
      break;
    }
    // Always a peek before a wait: Asio's reactor watches the socket edge-triggered and its waits
    // never try first, so bytes that came before the wait began would not wake it.
    auto buffer = peek_buffer();
    const auto n = ::recv(fd, buffer.data(), buffer.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      out.how = sniff_outcome::closed;
      out.detail = n == 0 ? "the client closed first" : "the client's connection failed";
      break;
    }
    const auto now_seen = n > 0 ? static_cast<std::size_t>(n) : out.seen;
    if (now_seen > out.seen) {
      out.seen = now_seen;
      auto verdict = sniff::sniff_name(std::string_view(buffer.data(), out.seen));
      out.proto = verdict.proto;
      if (verdict.status != sniff::sniff_status::need_more || out.seen >= sniff::sniff_bound) {
        out.how = outcome_of(verdict.status);
        out.name = std::move(verdict.name);
        out.ech = verdict.ech;
        out.detail = verdict.status == sniff::sniff_status::need_more ? "no verdict within the bound" : verdict.detail;
        break;
      }
      // Exactly where a TLS record says the ClientHello ends, so a trickle wakes us once.
      const auto wanted = std::clamp(verdict.wanted, out.seen + 1, sniff::sniff_bound);
      const int want = static_cast<int>(wanted);
      if (want != low_water && !net::set_receive_low_water(fd, want)) low_water = want;
    } else if (woken) {
      // Readable without a new byte: EOF after a partial first message, or an error. Another wait
      // would return at once, forever.
      out.how = sniff_outcome::closed;
      out.detail = "the client ended its stream before a verdict";
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      out.how = sniff_outcome::timeout;
      break;
    }
    wake_up.expires_at(deadline);
    auto [order, wait_error, timer_error] =
        co_await asio::experimental::make_parallel_group(client.async_wait(net::socket::wait_read, asio::deferred),
                                                         wake_up.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (stopped) {
      out.how = sniff_outcome::cancelled;
      break;
    }
    if (order[0] == 1) {
      out.how = sniff_outcome::timeout;
      break;
    }
    if (wait_error) {
      out.how = sniff_outcome::closed;
      out.detail = "the client's connection failed";
      break;
    }
    woken = true;
  }
  // The relay waits for readiness at the default mark: one byte.
  if (low_water != 1) net::set_receive_low_water(fd, 1);
  if (out.how == sniff_outcome::timeout) out.detail = out.seen == 0 ? "no bytes from the client" : "too few bytes";
  co_return out;
}

}  // namespace detour::proxy
