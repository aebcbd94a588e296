#include "detour/upstream/connector.hpp"

#include "detour/net/socket_options.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace detour::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<net::socket> open_upstream_socket(const net::socket::executor_type& executor, const tcp& protocol,
                                                const connect_options& options, attempt_error& failure) {
  net::socket socket(executor);
  // Created non-blocking, as connect_within() and the relay need it: no ioctl later.
  if (auto err = net::open_nonblocking(socket, protocol)) {
    failure = {fmt::format("socket: {}", err.message()), kind_of_errno(err.value())};
    return std::nullopt;
  }
  boost::system::error_code ec;
  if (options.mark != 0) {
    if (auto err = net::set_mark(socket.native_handle(), options.mark)) {
      failure = {fmt::format("SO_MARK {:#x}: {}", options.mark, err.message()), failure_kind::local};
      return std::nullopt;
    }
  }
  // For the relay (see splice_relay::start), set here because setting TCP_NODELAY on a connected
  // socket pushes out whatever is queued: a PROXY header sent with MSG_MORE to leave in one
  // segment with the client's first bytes would go alone (measured: 2 data segments instead of 1).
  socket.set_option(tcp::no_delay(true), ec);
  return socket;
}

asio::awaitable<net::socket::executor_type> worker_executor() {
  auto executor = co_await asio::this_coro::executor;
  const auto* context_executor = executor.target<net::socket::executor_type>();
  if (context_executor == nullptr) throw std::logic_error("connectors must run on an io_context executor");
  co_return *context_executor;
}

namespace {

attempt_error errno_error(int error) { return {std::system_category().message(error), kind_of_errno(error)}; }

}  // namespace

asio::awaitable<attempt_error> connect_within(net::socket& socket, const tcp::endpoint& target,
                                              std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  boost::system::error_code ec;
  if (!socket.native_non_blocking()) socket.native_non_blocking(true, ec);
  const int fd = socket.native_handle();
  if (::connect(fd, target.data(), static_cast<socklen_t>(target.size())) == 0) co_return attempt_error{};
  // EINTR: the handshake goes on in the background, exactly as for EINPROGRESS.
  if (errno != EINPROGRESS && errno != EINTR) co_return errno_error(errno);
  // On loopback and fast local links the handshake is often complete by the time connect()
  // returns: one poll(2) then saves the timer, a trip through the event loop and Asio's own
  // re-check (Connection: close req/s through detourd 1.09x to 1.16x, docs/BENCHMARKS.md).
  pollfd ready{fd, POLLOUT, 0};
  if (::poll(&ready, 1, 0) == 1) {
    // The kernel raises POLLERR (and POLLHUP) with a pending socket error, so a bare POLLOUT is a
    // completed handshake and the SO_ERROR read below can be skipped.
    if (ready.revents == POLLOUT) co_return attempt_error{};
  } else {
    asio::steady_timer timer(socket.get_executor(), timeout);
    auto result = co_await (socket.async_wait(net::socket::wait_write, asio::as_tuple(asio::use_awaitable)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) co_return attempt_error{"connect timeout", failure_kind::timeout};
    auto [wait_error] = std::get<0>(result);
    if (wait_error == asio::error::operation_aborted) co_return attempt_error{"cancelled", failure_kind::cancelled};
    if (wait_error) co_return attempt_error{wait_error.message(), failure_kind::other};
  }
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) co_return errno_error(error);
  co_return attempt_error{};
}

asio::awaitable<connect_outcome> connect_direct(tcp::endpoint target, const connect_options& options) {
  connect_outcome out;
  out.via = "direct";
  attempt_error failure;
  auto socket = open_upstream_socket(co_await worker_executor(), target.protocol(), options, failure);
  if (socket) {
    watched_socket watched(options.cancellation, *socket);
    failure = co_await connect_within(*socket, target, options.timeout);
    if (!failure.failed()) out.socket = std::move(socket);
  }
  out.failure = std::move(failure.text);
  out.kind = failure.kind;
  co_return out;
}

}  // namespace detour::upstream
