#include "detour/proxy/session.hpp"

#include "detour/echo/echo_line.hpp"
#include "detour/net/local_address.hpp"
#include "detour/net/original_dst.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/net/socket_options.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/relay/relay.hpp"
#include "detour/upstream/connector.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

namespace detour::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

// Ends the connection with RST instead of FIN: how a failure is told to the peer honestly, and
// how a reset on one side is carried to the other.
void reset(tcp::socket& socket) {
  if (!socket.is_open()) return;
  (void)net::set_linger_reset(socket.native_handle());
  boost::system::error_code ignored;
  socket.close(ignored);
}

// After the last byte is written: send FIN, then read and discard until the peer closes (bounded),
// because closing a socket with unread input makes the kernel send RST, which can destroy the
// reply in the peer's receive queue before it is read.
asio::awaitable<void> lingering_close(tcp::socket& socket) {
  using namespace asio::experimental::awaitable_operators;
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(2));
  auto drain = [&socket]() -> asio::awaitable<void> {
    char sink[4096];
    for (;;) {
      auto [err, n] = co_await socket.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
      if (err) co_return;
    }
  };
  co_await (drain() || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  socket.close(ec);
}

void warn_once_if_unsupported(const std::error_code& ec, bool v6) {
  static std::atomic<bool> warned_v4{false};
  static std::atomic<bool> warned_v6{false};
  if (ec.value() != ENOPROTOOPT) return;
  auto& warned = v6 ? warned_v6 : warned_v4;
  if (!warned.exchange(true)) {
    spdlog::warn("session: SO_ORIGINAL_DST for {} fails with ENOPROTOOPT: conntrack/NAT is not available for that "
                 "family in this kernel or namespace, so redirected {} connections cannot be relayed",
                 v6 ? "IPv6" : "IPv4", v6 ? "IPv6" : "IPv4");
  }
}

const char* end_reason(const relay::relay_result& r, const session_entry& entry) {
  if (entry.end_reason) return entry.end_reason;
  const auto& failed = r.up.error ? r.up : r.down;
  if (!failed.error) return "eof";
  // up reads the client and writes upstream; down the reverse.
  bool client_side = (&failed == &r.up) != failed.error_on_write;
  if (failed.error == std::errc::connection_reset || failed.error == std::errc::broken_pipe) {
    return client_side ? "client reset" : "upstream reset";
  }
  return client_side ? "client error" : "upstream error";
}

std::string seconds_since(clock_type::time_point start) {
  return fmt::format("{:.3f}s", std::chrono::duration<double>(clock_type::now() - start).count());
}

}  // namespace

asio::awaitable<void> run_session(tcp::socket client, worker& owner, std::shared_ptr<const config> cfg) {
  const auto start = clock_type::now();
  auto& counters = owner.counters();
  counters.accepted.add();
  boost::system::error_code ec;
  const auto source = net::unmap(client.remote_endpoint(ec));
  const auto local = net::unmap(client.local_endpoint(ec));
  std::error_code original_error;
  const auto original = net::original_destination(client.native_handle(), original_error);

  if (cfg->mode == mode::echo) {
    // Echo answers every connection, redirected or not: telling the two apart is what it is for.
    auto line = echo_line(source, local, original, original_error);
    co_await asio::async_write(client, asio::buffer(line), asio::as_tuple(asio::use_awaitable));
    co_await lingering_close(client);
    counters.echoed.add();
    spdlog::info("session: [{} -> {}] echo closed", net::to_string(source),
                 original ? net::to_string(*original) : original_error.message());
    co_return;
  }

  const auto tag = fmt::format("[{} -> {}]", net::to_string(source),
                               original ? net::to_string(*original) : net::to_string(local));
  if (!original || *original == local) {
    // Not redirected: somebody connected to the proxy port itself. Forwarding it would make detourd
    // an open proxy, so it is closed and counted.
    if (!original) warn_once_if_unsupported(original_error, local.address().is_v6());
    counters.not_redirected.add();
    spdlog::info("session: {} refused: not redirected{}", tag,
                 original ? "" : fmt::format(" (SO_ORIGINAL_DST: {})", original_error.message()));
    reset(client);
    co_return;
  }
  if (original->port() == owner.listen_port() && net::is_local_address(original->address())) {
    counters.loops.add();
    spdlog::warn("session: {} refused: loop (the original destination is detourd's own listener; are detourd's "
                 "own connections excluded from the redirect rules?)", tag);
    reset(client);
    co_return;
  }
  if (cfg->mode == mode::reject) {
    counters.rejected.add();
    spdlog::info("session: {} rejected", tag);
    reset(client);
    co_return;
  }

  session_entry entry;
  owner.add(entry);
  auto outcome = co_await upstream::connect_direct(*original, {cfg->mark, cfg->connect_timeout});
  if (!outcome.socket || entry.end_reason) {
    counters.upstream_failures.add();
    spdlog::info("session: {} {} connect failed: {} {}", tag, outcome.via,
                 entry.end_reason ? entry.end_reason : outcome.failure.c_str(), seconds_since(start));
    reset(client);
    owner.remove(entry);
    co_return;
  }
  auto& upstream = *outcome.socket;
  client.native_non_blocking(true, ec);
  upstream.native_non_blocking(true, ec);
  counters.relayed.add();
  entry.control.use_clock(owner.clock());
  entry.relaying = true;

  auto result = co_await relay::relay(client, upstream, owner.pipes(), entry.control, outcome.early_data);

  const char* reason = end_reason(result, entry);
  if (result.up.eof && result.down.eof) {
    client.close(ec);
    upstream.close(ec);
  } else {
    // Whichever side failed is gone already; the survivor learns of it by a reset, as it would
    // have without a proxy in between.
    reset(client);
    reset(upstream);
  }
  counters.bytes_up.add(result.up.bytes);
  counters.bytes_down.add(result.down.bytes);
  owner.remove(entry);
  spdlog::info("session: {} {} closed up={} down={} {} reason={}", tag, outcome.via, result.up.bytes,
               result.down.bytes, seconds_since(start), reason);
}

}  // namespace detour::proxy
