#include "detour/proxy/listener.hpp"

#include "detour/net/descriptor_limit.hpp"
#include "detour/net/exhaustion_warning.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/proxy/spawn.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <random>

namespace detour::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void fail(const tcp::endpoint& endpoint, std::string_view what, const boost::system::error_code& ec) {
  auto hint = ec == asio::error::address_in_use  ? " (another process is listening on that port; choose another with "
                                                   "--port or `port:`)"
              : ec == asio::error::access_denied ? " (binding a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
                                                 : "";
  throw listen_error(fmt::format("listen on {}: {}: {}{}", net::to_string(endpoint), what, ec.message(), hint));
}

// HAProxy's tune.maxaccept default: enough to drain a burst in one wake-up, few enough that a flood
// of new connections cannot starve the ones already relaying on this worker.
constexpr int accept_batch = 64;

bool out_of_resources(int error) { return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM; }

net::acceptor open_listening_socket(asio::io_context& context, const tcp::endpoint& endpoint) {
  net::acceptor acceptor(context.get_executor());
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail(endpoint, "socket", ec);
  int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    fail(endpoint, "SO_REUSEPORT", {errno, boost::system::system_category()});
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // IPv4 gets its own socket; a dual-stack one would hand us v4-mapped peers.
  if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) fail(endpoint, "bind", ec);
  acceptor.listen(SOMAXCONN, ec);
  if (ec) fail(endpoint, "listen", ec);
  // accept4() on it must return EAGAIN when the queue is empty, not block the worker.
  acceptor.native_non_blocking(true, ec);
  if (ec) fail(endpoint, "O_NONBLOCK", ec);
  return acceptor;
}

}  // namespace

std::string accept_warning(int error, std::uint64_t descriptor_limit) {
  const auto text = std::system_category().message(error);
  switch (error) {
    case EMFILE:
      return fmt::format(
          "listener: accept: {} (RLIMIT_NOFILE {}): raise LimitNOFILE= (ulimit -n) or lower "
          "limits.max_connections; backing off, new connections wait in the backlog",
          text, descriptor_limit);
    case ENFILE:
      return fmt::format(
          "listener: accept: {} (the system's file table, fs.file-max): raise fs.file-max or find what holds "
          "the files; backing off, new connections wait in the backlog",
          text);
    default:
      return fmt::format("listener: accept: {} (kernel memory); backing off, new connections wait in the backlog",
                         text);
  }
}

void ensure_port_free(const tcp::endpoint& endpoint) {
  asio::io_context context;
  tcp::acceptor probe(context);
  boost::system::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (ec) fail(endpoint, "socket", ec);
  if (endpoint.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  // SO_REUSEADDR lets the probe past connections of a previous run still in TIME_WAIT, while a
  // socket in LISTEN on the port still makes it fail: that is the case to report.
  probe.set_option(tcp::acceptor::reuse_address(true), ec);
  probe.bind(endpoint, ec);
  if (ec) fail(endpoint, "bind", ec);
}

listener::listener(asio::io_context& context, unsigned jitter_seed) : context_(context), jitter_seed_(jitter_seed) {}

void listener::listen(const tcp::endpoint& endpoint, std::optional<traffic_direction> direction) {
  // Built first, then moved in: the static analyzer loses the owner of a make_unique written inside
  // a braced temporary and reports a leak that is not there.
  listening entry;
  entry.acceptor = std::make_unique<net::acceptor>(open_listening_socket(context_, endpoint));
  entry.direction = direction;
  entry.port = entry.acceptor->local_endpoint().port();
  acceptors_.push_back(std::move(entry));
}

bool listener::serves_port(std::uint16_t port) const {
  return std::any_of(acceptors_.begin(), acceptors_.end(), [&](const listening& l) { return l.port == port; });
}

void listener::start(accept_handler on_accept, error_handler on_error) {
  on_accept_ = std::move(on_accept);
  on_error_ = std::move(on_error);
  for (auto& socket : acceptors_) spawn(context_, accept_loop(socket), "listener");
}

void listener::close() {
  closed_ = true;
  boost::system::error_code ignored;
  for (auto& socket : acceptors_) socket.acceptor->close(ignored);
}

asio::awaitable<void> listener::accept_loop(listening& socket) {
  auto& acceptor = *socket.acceptor;
  const int fd = acceptor.native_handle();
  const auto protocol = acceptor.local_endpoint().protocol();
  std::minstd_rand jitter(jitter_seed_ + 1);
  asio::steady_timer backoff(context_);
  while (!closed_) {
    int error = 0;
    for (int taken = 0; error == 0 && !closed_; ++taken) {
      if (taken == accept_batch) {
        // The queue still holds connections: let the ones just accepted (and the rest of the
        // worker) run first, then come back without waiting for an edge that already passed.
        co_await asio::post(context_, asio::use_awaitable);
        break;
      }
      sockaddr_storage peer{};
      socklen_t length = sizeof(peer);
      const int client = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) {
        error = errno == EINTR ? 0 : errno;
        continue;
      }
      net::socket adopted(context_.get_executor());
      if (auto failed = net::adopt(adopted, protocol, client)) {
        error = failed.value();
        break;
      }
      on_accept_(std::move(adopted), net::to_endpoint(peer), socket.direction);
    }
    if (closed_) break;
    if (error == 0) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      auto [ec] = co_await acceptor.async_wait(net::acceptor::wait_read, asio::as_tuple(asio::use_awaitable));
      if (ec) break;  // closed
      continue;
    }
    on_error_(error);
    if (out_of_resources(error)) {
      // Out of descriptors: the pending connection stays in the backlog. Retrying at once would
      // spin; back off with jitter so the workers do not retry in lockstep.
      net::warn_exhausted(error == EMFILE || error == ENFILE ? net::exhausted::descriptors : net::exhausted::memory,
                          accept_warning(error, net::soft_descriptor_limit()));
      backoff.expires_after(std::chrono::milliseconds(50 + jitter() % 50));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    // ECONNABORTED and the like concern one connection only.
    spdlog::debug("listener: accept: {}", std::system_category().message(error));
  }
}

}  // namespace detour::proxy
