#include "detour/proxy/session.hpp"

#include "detour/echo/echo_json.hpp"
#include "detour/echo/echo_line.hpp"
#include "detour/net/local_address.hpp"
#include "detour/net/original_dst.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/net/socket_options.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/relay/splice_relay.hpp"
#include "detour/upstream/connector.hpp"
#include "detour/upstream/proxy_connector.hpp"

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
void reset(net::socket& socket) {
  if (!socket.is_open()) return;
  (void)net::set_linger_reset(socket.native_handle());
  boost::system::error_code ignored;
  socket.close(ignored);
}

// After the last byte is written: send FIN, then read and discard until the peer closes (bounded),
// because closing a socket with unread input makes the kernel send RST, which can destroy the
// reply in the peer's receive queue before it is read.
asio::awaitable<void> lingering_close(net::socket& socket) {
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

asio::awaitable<void> echo(net::socket& client, std::string line) {
  co_await asio::async_write(client, asio::buffer(line), asio::as_tuple(asio::use_awaitable));
  co_await lingering_close(client);
}

std::string seconds_since(clock_type::time_point start) {
  return fmt::format("{:.3f}s", std::chrono::duration<double>(clock_type::now() - start).count());
}

// A connection while it relays. It owns itself: the setup coroutine creates it and is gone, and
// it deletes itself when both directions have ended, so an idle connection keeps only this.
class relayed_session final : public session_entry, public relay::splice_relay {
 public:
  relayed_session(worker& owner, net::socket client, net::socket upstream, tcp::endpoint source,
                  tcp::endpoint original, clock_type::time_point start, std::string via)
      : splice_relay(std::move(client), std::move(upstream), owner.pipes(), owner.clock()),
        owner_(owner),
        source_(source),
        original_(original),
        start_(start),
        via_(std::move(via)) {
    owner_.add(*this);
  }

  void end(const char* reason) override {
    if (end_reason_ == nullptr) end_reason_ = reason;
    abort();
  }
  std::optional<std::uint64_t> last_active() const override { return splice_relay::last_active(); }

 private:
  void on_finished() override {
    const auto& r = result();
    boost::system::error_code ec;
    if (r.up.eof && r.down.eof) {
      client().close(ec);
      upstream().close(ec);
    } else {
      // Whichever side failed is gone already; the survivor learns of it by a reset, as it would
      // have without a proxy in between.
      reset(client());
      reset(upstream());
    }
    auto& counters = owner_.counters();
    counters.bytes_up.add(r.up.bytes);
    counters.bytes_down.add(r.down.bytes);
    owner_.remove(*this);
    if (spdlog::should_log(spdlog::level::info)) {
      spdlog::info("session: [{} -> {}] {} closed up={} down={} {} reason={}", net::to_string(source_),
                   net::to_string(original_), via_, r.up.bytes, r.down.bytes, seconds_since(start_), reason());
    }
    delete this;
  }

  const char* reason() const {
    if (end_reason_) return end_reason_;
    const auto& r = result();
    const auto& failed = r.up.error ? r.up : r.down;
    if (!failed.error) return "eof";
    // up reads the client and writes upstream; down the reverse.
    bool client_side = (&failed == &r.up) != failed.error_on_write;
    if (failed.error == std::errc::connection_reset || failed.error == std::errc::broken_pipe) {
      return client_side ? "client reset" : "upstream reset";
    }
    return client_side ? "client error" : "upstream error";
  }

  worker& owner_;
  tcp::endpoint source_;
  tcp::endpoint original_;
  clock_type::time_point start_;
  std::string via_;
  const char* end_reason_ = nullptr;
};

// Registered while the upstream connect is in flight, so shutdown can find it; the connect itself
// is bounded by connect_timeout.
class connecting_entry final : public session_entry {
 public:
  explicit connecting_entry(worker& owner) : owner_(owner) { owner_.add(*this); }
  ~connecting_entry() override { owner_.remove(*this); }
  void end(const char* reason) override {
    if (reason_ == nullptr) reason_ = reason;
  }
  std::optional<std::uint64_t> last_active() const override { return std::nullopt; }
  const char* reason() const { return reason_; }

 private:
  worker& owner_;
  const char* reason_ = nullptr;
};

}  // namespace

asio::awaitable<void> run_session(net::socket client, worker& owner, std::shared_ptr<const config> cfg) {
  const auto start = clock_type::now();
  auto& counters = owner.counters();
  counters.accepted.add();
  boost::system::error_code ec;
  const auto source = net::unmap(client.remote_endpoint(ec));
  const auto local = net::unmap(client.local_endpoint(ec));
  std::error_code original_error;
  const auto original = net::original_destination(client.native_handle(), source, original_error);

  const bool redirected = original && *original != local;
  if (cfg->mode == mode::echo && !redirected) {
    // Echo mode answers connections that were not redirected too: telling the two apart is what
    // it is for. Redirected ones go through the routes, whose default is then echo.
    co_await echo(client, echo_line(source, local, original, original_error));
    counters.echoed.add();
    spdlog::info("session: [{} -> {}] echo closed", net::to_string(source),
                 original ? net::to_string(*original) : original_error.message());
    co_return;
  }

  if (!redirected) {
    // Not redirected: somebody connected to the proxy port itself. Forwarding it would make detourd
    // an open proxy, so it is closed and counted.
    if (!original) warn_once_if_unsupported(original_error, local.address().is_v6());
    counters.not_redirected.add();
    spdlog::info("session: [{} -> {}] refused: not redirected{}", net::to_string(source), net::to_string(local),
                 original ? "" : fmt::format(" (SO_ORIGINAL_DST: {})", original_error.message()));
    reset(client);
    co_return;
  }
  if (original->port() == owner.listen_port() && net::is_local_address(original->address())) {
    counters.loops.add();
    spdlog::warn("session: [{} -> {}] refused: loop (the original destination is detourd's own listener; are "
                 "detourd's own connections excluded from the redirect rules?)",
                 net::to_string(source), net::to_string(*original));
    reset(client);
    co_return;
  }
  const auto decision = owner.router().decide(source, *original);
  switch (decision.action.kind) {
    case route_kind::reject:
      counters.rejected.add();
      spdlog::info("session: [{} -> {}] rejected ({})", net::to_string(source), net::to_string(*original),
                   owner.router().describe(decision));
      reset(client);
      co_return;
    case route_kind::echo:
    case route_kind::echo_json: {
      // Built before co_await: GCC 12 destroys a ?: temporary inside a co_await expression twice.
      auto line = decision.action.kind == route_kind::echo
                      ? echo_line(source, local, original, original_error)
                      : echo_json(source, local, *original, owner.router().describe(decision));
      co_await echo(client, std::move(line));
      counters.echoed.add();
      spdlog::info("session: [{} -> {}] echo closed ({})", net::to_string(source), net::to_string(*original),
                   owner.router().describe(decision));
      co_return;
    }
    case route_kind::direct:
    case route_kind::upstream:
      break;
  }

  upstream::connect_outcome outcome;
  {
    connecting_entry connecting(owner);
    if (decision.action.kind == route_kind::upstream) {
      const auto& via = cfg->upstreams.at(decision.action.upstream);
      outcome = co_await upstream::connect_upstream(*original, via, {cfg->mark, via.connect_timeout});
    } else {
      outcome = co_await upstream::connect_direct(*original, {cfg->mark, cfg->connect_timeout});
    }
    if (outcome.socket && connecting.reason()) outcome.failure = connecting.reason();
  }
  if (!outcome.socket || !outcome.failure.empty()) {
    counters.upstream_failures.add();
    spdlog::info("session: [{} -> {}] {} connect failed: {} {}", net::to_string(source), net::to_string(*original),
                 outcome.via, outcome.failure, seconds_since(start));
    reset(client);
    co_return;
  }
  if (!outcome.early_data.empty()) {
    auto [wec, n] = co_await asio::async_write(client, asio::buffer(outcome.early_data),
                                               asio::as_tuple(asio::use_awaitable));
    if (wec) {
      reset(*outcome.socket);
      co_return;
    }
  }
  counters.relayed.add();
  auto* session = new relayed_session(owner, std::move(client), std::move(*outcome.socket), source, *original, start,
                                      std::move(outcome.via));
  session->start();
}

}  // namespace detour::proxy
