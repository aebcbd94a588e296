#include "detour/relay/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/buffer.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace detour::relay {

namespace asio = boost::asio;
using asio::ip::tcp;

void relay_control::abort() {
  if (aborted_) return;
  aborted_ = true;
  boost::system::error_code ignored;
  if (a_) a_->cancel(ignored);
  if (b_) b_->cancel(ignored);
}

namespace {

constexpr auto splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

std::error_code errno_code() { return {errno, std::system_category()}; }

// One direction. Every operation is tried first and waited for only on EAGAIN: Asio's epoll
// reactor is edge-triggered, so waiting for readiness that arrived before the wait was queued
// would never complete; a failed attempt proves the buffer is empty and the next edge will come.
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, pipe_pool& pipes, relay_control& control,
                           direction_result& result) {
  const int in = from.native_handle();
  const int out = to.native_handle();
  const std::size_t chunk = pipes.pipe_size() != 0 ? pipes.pipe_size() : 65536;
  pipe_fds pipe{};
  std::size_t in_pipe = 0;

  while (!control.aborted()) {
    if (pipe.read_fd < 0) {
      pipe = pipes.acquire();
      if (pipe.read_fd < 0) {
        result.error = errno_code();
        break;
      }
    }
    auto n = ::splice(in, nullptr, pipe.write_fd, nullptr, chunk, splice_flags);
    if (n == 0) {
      result.eof = true;
      // The peer will send no more: pass the FIN on, and keep the other direction flowing.
      ::shutdown(out, SHUT_WR);
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        result.error = errno_code();
        break;
      }
      // Nothing to move: hand the empty pipe back so an idle connection holds none.
      pipes.release(pipe);
      pipe = {};
      auto [ec] = co_await from.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
      if (ec) break;  // aborted from outside
      continue;
    }
    control.touch();
    in_pipe = static_cast<std::size_t>(n);
    while (in_pipe > 0) {
      auto m = ::splice(pipe.read_fd, nullptr, out, nullptr, in_pipe, splice_flags);
      if (m > 0) {
        in_pipe -= static_cast<std::size_t>(m);
        result.bytes += static_cast<std::uint64_t>(m);
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) {
        auto [ec] = co_await to.async_wait(tcp::socket::wait_write, asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        continue;
      }
      result.error = m == 0 ? std::make_error_code(std::errc::broken_pipe) : errno_code();
      result.error_on_write = true;
      break;
    }
    if (in_pipe > 0) break;
  }

  if (pipe.read_fd >= 0) {
    if (in_pipe > 0) {
      pipe_pool::discard(pipe);  // holds bytes for a connection that is gone
    } else {
      pipes.release(pipe);
    }
  }
  if (!result.eof) control.abort();
}

}  // namespace

asio::awaitable<relay_result> relay(tcp::socket& client, tcp::socket& upstream, pipe_pool& pipes,
                                    relay_control& control, std::string_view early_data) {
  using namespace asio::experimental::awaitable_operators;
  relay_result result;
  control.attach(&client, &upstream);
  if (!early_data.empty()) {
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(early_data.data(), early_data.size()),
                                              asio::as_tuple(asio::use_awaitable));
    result.down.bytes += n;
    if (ec) {
      result.down.error = ec;
      result.down.error_on_write = true;
      co_return result;
    }
  }
  co_await (pump(client, upstream, pipes, control, result.up) && pump(upstream, client, pipes, control, result.down));
  control.attach(nullptr, nullptr);
  co_return result;
}

}  // namespace detour::relay
