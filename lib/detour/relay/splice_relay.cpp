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
// direction::mark of a copy buffer no bytes have arrived in yet: a direction takes its carrier
// before it knows whether bytes are waiting, and a fallback is counted only once one carried some.
constexpr std::uint32_t fresh_buffer = UINT32_MAX;

std::error_code errno_code() { return {errno, std::system_category()}; }

}  // namespace

splice_relay::splice_relay(net::socket client, net::socket upstream, relay_pools& pools, const std::uint64_t& tick,
                           byte_counters& live, completion on_finished)
    : client_(std::move(client)),
      upstream_(std::move(upstream)),
      pools_(pools),
      tick_(tick),
      live_(live),
      last_active_(tick),
      on_finished_(std::move(on_finished)),
      up_{},
      down_{} {}

void splice_relay::start() {
  boost::system::error_code ignored;
  // The listener and the connectors create their sockets non-blocking and tell Asio so
  // (net::adopt): asking again would cost an ioctl per socket. Only a socket made elsewhere (tests)
  // needs it here.
  if (!client_.native_non_blocking()) client_.native_non_blocking(true, ignored);
  if (!upstream_.native_non_blocking()) upstream_.native_non_blocking(true, ignored);
  // The relay forwards segments as they come; Nagle's algorithm would hold a small one back until
  // the previous one is acknowledged, and the peers' delayed ACKs make that a wait. The endpoints
  // already chose how to batch their writes. The connectors set it on the upstream socket before
  // connecting (upstream::open_upstream_socket): set now, it would push out a PROXY header queued
  // with MSG_MORE ahead of the first bytes this relay sends.
  client_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
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
  for (int turn = 0; turn < chunks_per_turn; ++turn) {
    if (aborted_) return end(d);
    if (d.pending > 0) {
      const bool copying = d.kind == carrier::buffer;
      // MSG_NOSIGNAL as splice() gets by SIGPIPE being ignored: a reset peer is EPIPE either way.
      auto m = copying ? ::send(out, d.buffer + d.mark, d.pending, MSG_NOSIGNAL | MSG_DONTWAIT)
                       : ::splice(d.pipe.read_fd, nullptr, out, nullptr, d.pending, splice_flags);
      if (m > 0) {
        d.pending -= static_cast<std::uint32_t>(m);
        if (copying) d.mark += static_cast<std::uint32_t>(m);
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
    if (d.kind == carrier::none) take_carrier(d);
    auto n = d.kind == carrier::buffer ? ::recv(in, d.buffer, copy_buffer_pool::buffer_size, MSG_DONTWAIT)
                                       : ::splice(in, nullptr, d.pipe.write_fd, nullptr, d.mark, splice_flags);
    if (n > 0) {
      if (d.kind == carrier::buffer) {
        if (d.mark == fresh_buffer) pools_.copy_fallbacks.add();
        d.mark = 0;
      }
      d.pending = static_cast<std::uint32_t>(n);
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
    // Nothing to move: hand the empty pipe or buffer back so that an idle connection holds none,
    // and a direction that had to copy tries for a pipe again next time.
    release_carrier(d);
    return wait(d, source(d), net::socket::wait_read);
  }
  boost::asio::post(client_.get_executor(), [this, &d] { run(d); });
}

void splice_relay::take_carrier(direction& d) {
  const auto p = pools_.pipes.acquire();
  if (p.read_fd >= 0) {
    d.kind = carrier::pipe;
    d.pipe = {p.read_fd, p.write_fd};
    d.mark = p.size;
    return;
  }
  d.kind = carrier::buffer;
  d.buffer = pools_.buffers.acquire();
  d.mark = fresh_buffer;
}

void splice_relay::release_carrier(direction& d) {
  if (d.kind == carrier::buffer) {
    pools_.buffers.release(d.buffer);
  } else if (d.kind == carrier::pipe) {
    const pipe_fds p{d.pipe.read_fd, d.pipe.write_fd, d.mark};
    if (d.pending > 0) {
      pools_.pipes.discard(p);  // holds bytes for a connection that is gone
    } else {
      pools_.pipes.release(p);
    }
  }
  d.kind = carrier::none;
  d.buffer = nullptr;
  d.pending = 0;
}

void splice_relay::end(direction& d) {
  const auto& other = opposite(d);
  if (!other.done) up_ended_first_ = &d == &up_;
  d.done = true;
  release_carrier(d);
  if (!d.result.eof) abort();
  if (up_.done && down_.done) {
    // The owner may destroy this relay, and with it on_finished_, from inside the call.
    auto done = std::move(on_finished_);
    done();
  }
}

}  // namespace detour::relay
