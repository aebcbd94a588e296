#include "detour/relay/splice_relay.hpp"

#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace detour::relay {

namespace {

constexpr auto splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// A direction that always has data would otherwise keep the worker to itself; after this many
// chunks it yields to the other connections on the same thread.
constexpr int chunks_per_turn = 16;

std::error_code errno_code() { return {errno, std::system_category()}; }

}  // namespace

splice_relay::splice_relay(net::socket client, net::socket upstream, pipe_pool& pipes, const std::uint64_t& tick,
                           byte_counters& live, completion on_finished)
    : client_(std::move(client)),
      upstream_(std::move(upstream)),
      pipes_(pipes),
      tick_(tick),
      live_(live),
      last_active_(tick),
      on_finished_(std::move(on_finished)),
      up_{},
      down_{} {}

void splice_relay::start() {
  boost::system::error_code ignored;
  // Asio's async_connect left the upstream socket non-blocking already; asking again would cost
  // one more ioctl per connection.
  if (!client_.native_non_blocking()) client_.native_non_blocking(true, ignored);
  if (!upstream_.native_non_blocking()) upstream_.native_non_blocking(true, ignored);
  // The relay forwards segments as they come; Nagle's algorithm would hold a small one back until
  // the previous one is acknowledged, and the peers' delayed ACKs make that a wait. The endpoints
  // already chose how to batch their writes.
  client_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  upstream_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  run(up_);
  run(down_);
}

void splice_relay::abort() {
  if (aborted_) return;
  aborted_ = true;
  boost::system::error_code ignored;
  client_.cancel(ignored);
  upstream_.cancel(ignored);
}

void splice_relay::wait(direction& d, net::socket& s, net::socket::wait_type type) {
  s.async_wait(type, [this, &d](const boost::system::error_code& ec) {
    if (ec) {
      end(d);  // cancelled by abort()
    } else {
      run(d);
    }
  });
}

// Every operation is tried first and waited for only on EAGAIN: Asio's epoll reactor is
// edge-triggered, so a wait for readiness that arrived before the wait was queued would never
// complete; a failed attempt proves the buffer is drained and that the next edge will come.
void splice_relay::run(direction& d) {
  const int in = source(d).native_handle();
  const int out = sink(d).native_handle();
  const std::size_t chunk = pipes_.pipe_size() != 0 ? pipes_.pipe_size() : 65536;
  for (int turn = 0; turn < chunks_per_turn; ++turn) {
    if (aborted_) return end(d);
    if (d.in_pipe > 0) {
      auto m = ::splice(d.pipe.read_fd, nullptr, out, nullptr, d.in_pipe, splice_flags);
      if (m > 0) {
        d.in_pipe -= static_cast<std::size_t>(m);
        d.result.bytes += static_cast<std::uint64_t>(m);
        live(d).add(static_cast<std::uint64_t>(m));
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) return wait(d, sink(d), net::socket::wait_write);
      d.result.error = m == 0 ? std::make_error_code(std::errc::broken_pipe) : errno_code();
      d.result.error_on_write = true;
      return end(d);
    }
    if (d.pipe.read_fd < 0) {
      d.pipe = pipes_.acquire();
      if (d.pipe.read_fd < 0) {
        d.result.error = errno_code();
        d.result.error_on_pipe = true;
        return end(d);
      }
    }
    auto n = ::splice(in, nullptr, d.pipe.write_fd, nullptr, chunk, splice_flags);
    if (n > 0) {
      d.in_pipe = static_cast<std::size_t>(n);
      last_active_ = tick_;
      continue;
    }
    if (n == 0) {
      d.result.eof = true;
      // The peer will send no more: pass the FIN on, and keep the other direction flowing. When the
      // other direction has ended already, the owner closes both sockets next, and close()
      // sends the FIN itself: one system call per connection saved.
      const auto& other = opposite(d);
      if (!(other.done && other.result.eof)) ::shutdown(out, SHUT_WR);
      return end(d);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      d.result.error = errno_code();
      return end(d);
    }
    // Nothing to move: hand the empty pipe back so that an idle connection holds none.
    pipes_.release(d.pipe);
    d.pipe = {};
    return wait(d, source(d), net::socket::wait_read);
  }
  boost::asio::post(client_.get_executor(), [this, &d] { run(d); });
}

void splice_relay::end(direction& d) {
  const auto& other = opposite(d);
  if (!other.done) up_ended_first_ = &d == &up_;
  d.done = true;
  if (d.pipe.read_fd >= 0) {
    if (d.in_pipe > 0) {
      pipes_.discard(d.pipe);  // holds bytes for a connection that is gone
    } else {
      pipes_.release(d.pipe);
    }
    d.pipe = {};
    d.in_pipe = 0;
  }
  if (!d.result.eof) abort();
  if (up_.done && down_.done) {
    // The owner may destroy this relay, and with it on_finished_, from inside the call.
    auto done = std::move(on_finished_);
    done();
  }
}

}  // namespace detour::relay
