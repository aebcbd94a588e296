#include "detour/proxy/session.hpp"

#include "detour/echo/echo_json.hpp"
#include "detour/echo/echo_line.hpp"
#include "detour/net/exhaustion_warning.hpp"
#include "detour/net/local_address.hpp"
#include "detour/net/original_dst.hpp"
#include "detour/net/sockaddr.hpp"
#include "detour/proxy/capture_direction.hpp"
#include "detour/proxy/name_sniff.hpp"
#include "detour/proxy/relayed_session.hpp"
#include "detour/proxy/session_record.hpp"
#include "detour/proxy/worker.hpp"
#include "detour/rules/capture_self_test.hpp"
#include "detour/upstream/connector.hpp"
#include "detour/upstream/proxy_connector.hpp"
#include "detour/upstream/proxy_header.hpp"
#include "detour/upstream/resource_failure.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>

namespace detour::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

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
    spdlog::warn(
        "session: SO_ORIGINAL_DST for {} fails with ENOPROTOOPT: conntrack/NAT is not available for that "
        "family in this kernel or namespace, so redirected {} connections cannot be relayed",
        v6 ? "IPv6" : "IPv4", v6 ? "IPv6" : "IPv4");
  }
}

asio::awaitable<void> answer(net::socket& client, std::string line) {
  co_await asio::async_write(client, asio::buffer(line), asio::as_tuple(asio::use_awaitable));
  co_await lingering_close(client);
}

// In the worker's list during a step before the relay, so that shutdown and the admin API can find
// the session: end() records the first reason and stops the step, which then returns at once.
class setup_entry : public session_entry {
 public:
  setup_entry(worker& owner, const session_record& record) : owner_(owner), record_(record) { owner_.add(*this); }
  ~setup_entry() override { owner_.remove(*this); }
  setup_entry(const setup_entry&) = delete;
  setup_entry& operator=(const setup_entry&) = delete;

  void end(const char* reason) override {
    if (reason_ == nullptr) reason_ = reason;
    stop();
  }
  std::optional<std::uint64_t> last_active() const override { return std::nullopt; }
  const session_record& record() const override { return record_; }
  bool relaying() const override { return false; }
  std::uint64_t bytes_up() const override { return 0; }
  std::uint64_t bytes_down() const override { return 0; }

  const char* reason() const { return reason_; }

 protected:
  virtual void stop() = 0;

 private:
  worker& owner_;
  const session_record& record_;
  const char* reason_ = nullptr;
};

// While the upstream connect (and handshake) is in flight: end() cancels the attempt.
class connecting_entry final : public setup_entry {
 public:
  using setup_entry::setup_entry;
  upstream::connect_cancellation* cancellation() { return &cancellation_; }

 private:
  void stop() override { cancellation_.cancel(); }
  upstream::connect_cancellation cancellation_;
};

// While the session waits for the client's first bytes: end() cancels the wait.
class sniffing_entry final : public setup_entry {
 public:
  sniffing_entry(worker& owner, const session_record& record, net::socket& client)
      : setup_entry(owner, record), client_(client) {}
  const bool& stopped() const { return stopped_; }

 private:
  void stop() override {
    stopped_ = true;
    boost::system::error_code ignored;
    client_.cancel(ignored);
  }
  net::socket& client_;
  bool stopped_ = false;
};

// Out of descriptors, ports or conntrack entries, every connection fails alike until one frees:
// the per-connection lines say so at info, and one warning a second names the limit and the fix.
void warn_exhausted(upstream::failure_kind kind, const session_record& record,
                    const upstream::explained_failure& failure) {
  const auto what = kind == upstream::failure_kind::no_descriptors ? net::exhausted::descriptors
                    : kind == upstream::failure_kind::no_ports     ? net::exhausted::ports
                                                                   : net::exhausted::conntrack;
  net::warn_exhausted(what, fmt::format("upstream: [{} -> {}] {}: {}", net::to_string(record.source),
                                        net::to_string(*record.original), failure.text, failure.remedy));
}

// Connects to the original destination, directly or through the route's upstream, bounded by the
// connect timeout and cancellable by shutdown, and sends the PROXY header the route asks for.
// Without a socket in the outcome, record.reason says why.
asio::awaitable<upstream::connect_outcome> open_upstream(worker& owner, session_record& record, net::socket& client) {
  const auto& cfg = record.snapshot->cfg;
  const auto& action = record.decision->action;
  connecting_entry connecting(owner, record);
  upstream::connect_outcome outcome;
  const auto began = session_record::clock::now();
  if (action.kind == route_kind::upstream) {
    const auto& via = cfg.upstreams.at(action.upstream);
    outcome = co_await upstream::connect_upstream(
        *record.original, via, {cfg.mark, via.connect_timeout, connecting.cancellation(), record.server_name});
  } else {
    // Direct is by address: the name matters only to a proxy that resolves it.
    outcome = co_await upstream::connect_direct(*record.original,
                                                {cfg.mark, cfg.connect_timeout, connecting.cancellation(), {}});
  }
  if (outcome.socket && connecting.reason() == nullptr) {
    // The sniffed name, when there is one, goes in v2's authority TLV; empty, the TLV stays out.
    auto sent = upstream::send_proxy_header(*outcome.socket, client, upstream::proxy_protocol_of(cfg, action),
                                            record.source, *record.original, record.server_name, record.id);
    if (sent.failed()) {
      net::reset(*outcome.socket);
      outcome.socket.reset();
      outcome.failure = std::move(sent.text);
      outcome.kind = sent.kind;
    }
  }
  record.via = std::move(outcome.via);
  record.server = outcome.server;
  if (connecting.reason() != nullptr) {
    // A connect that completed as shutdown began is not relayed either: the worker is draining.
    outcome.socket.reset();
    record.reason = connecting.reason();
    record.failure = upstream::failure_kind::cancelled;
  } else if (!outcome.socket) {
    auto failure = upstream::explain(outcome.failure, outcome.kind, upstream::read_resource_context(outcome.kind));
    if (!failure.remedy.empty()) warn_exhausted(failure.kind, record, failure);
    record.reason = std::move(failure.text);
    record.failure = failure.kind;
  } else {
    record.connected = session_record::clock::now();
    owner.metrics()
        .upstream(*record.snapshot, action)
        .connect_seconds.observe(std::chrono::duration<double>(*record.connected - began).count());
  }
  co_return outcome;
}

// Waits (bounded by sniff.timeout) for the client's first bytes and puts the server name they give
// in the record; counted and timed whatever the outcome. Returns the reason the session was ended
// meanwhile, or nullptr.
asio::awaitable<const char*> sniff_name_into(worker& owner, session_record& record, net::socket& client) {
  sniffing_entry sniffing(owner, record, client);
  const auto began = session_record::clock::now();
  auto got = co_await sniff_server_name(client, record.snapshot->cfg.sniff.timeout, sniffing.stopped());
  const auto waited = std::chrono::duration<double>(session_record::clock::now() - began).count();
  auto& metrics = owner.metrics();
  metrics.sniffed[static_cast<std::size_t>(got.how)].add();
  metrics.sniff_seconds.observe(waited);
  if (got.how == sniff_outcome::found) {
    record.server_name = std::move(got.name);
    record.name_from = got.proto == sniff::protocol::http ? name_origin::http_host
                       : got.ech                          ? name_origin::tls_ech_outer
                                                          : name_origin::tls_sni;
    if (got.ech) {
      spdlog::debug(
          "session: [{} -> {}] the ClientHello carries encrypted_client_hello: {} is the outer name, which for "
          "real ECH is a decoy (the client-facing server's public name), not the server the client means",
          net::to_string(record.source), net::to_string(*record.original), record.server_name);
    }
  } else if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("session: [{} -> {}] no server name ({}{}{}, {} bytes, {:.3f}s): routed by address",
                  net::to_string(record.source), net::to_string(*record.original), to_string(got.how),
                  got.proto == sniff::protocol::none ? "" : fmt::format(" {}", sniff::to_string(got.proto)),
                  got.detail.empty() ? "" : fmt::format(": {}", got.detail), got.seen, waited);
  }
  co_return sniffing.reason();
}

}  // namespace

asio::awaitable<void> run_session(net::socket client, boost::asio::ip::tcp::endpoint peer,
                                  std::optional<traffic_direction> direction, worker& owner, snapshot_ptr snapshot) {
  session_record record;
  record.id = owner.next_id();
  record.snapshot = std::move(snapshot);
  const auto& cfg = record.snapshot->cfg;
  boost::system::error_code ec;
  record.source = net::unmap(peer);
  record.local = net::unmap(client.local_endpoint(ec));
  record.direction = capture_direction(direction, record.local);
  record.original = net::original_destination(client.native_handle(), record.source, record.original_error);
  if (record.original && rules::is_self_test_destination(*record.original)) {
    // detourd's own probe, not traffic: counted on its own and kept out of `accepted` and
    // finish(), so the route counters, the access log and the session lines describe only what
    // users sent.
    owner.stats().self_tests.add();
    spdlog::debug("session: [{} -> {}] capture self-test answered", net::to_string(record.source),
                  net::to_string(*record.original));
    co_await answer(client, rules::self_test_answer(*record.original));
    co_return;
  }
  owner.stats().accepted.add();
  if (record.direction == traffic_direction::inbound) owner.stats().accepted_inbound.add();
  // Before anything else costs a descriptor or a route: a connection over a limit is reset at once.
  record.ticket = owner.admission().admit(record.snapshot->limits, record.source.address(), record.reason);
  if (!record.ticket.held()) {
    finish(record, outcome::over_limit, owner);
    net::reset(client);
    co_return;
  }

  const bool redirected = record.original && *record.original != record.local;
  if (cfg.mode == mode::echo && !redirected) {
    // Echo mode answers connections that were not redirected too: telling the two apart is what
    // it is for. Redirected ones go through the routes, whose default is then echo.
    co_await answer(client, echo::echo_line(record.source, record.local, record.original, record.original_error));
    finish(record, outcome::echoed, owner);
    co_return;
  }
  if (!redirected) {
    // Not redirected: somebody connected to the proxy port itself. Forwarding it would make detourd
    // an open proxy, so it is closed and counted.
    if (!record.original) warn_once_if_unsupported(record.original_error, record.local.address().is_v6());
    finish(record, outcome::not_redirected, owner);
    net::reset(client);
    co_return;
  }
  const auto& original = *record.original;
  if (owner.serves_port(original.port()) && net::is_local_address(original.address())) {
    finish(record, outcome::loop, owner);
    net::reset(client);
    co_return;
  }

  // Only connections to a sniff port wait for their first bytes: where the server speaks first
  // (SMTP, SSH) the client sends nothing until it has, and would wait out the whole timeout.
  const char* ended = nullptr;
  if (cfg.sniff.covers(original.port())) ended = co_await sniff_name_into(owner, record, client);

  const auto& router = record.snapshot->router;
  const auto& decision =
      record.decision.emplace(router.decide({record.source, original, record.server_name, record.direction}));
  owner.metrics().route(*record.snapshot, decision).active.add();  // finish() takes it back
  if (ended != nullptr) {
    // Ended while it waited (shutdown, admin): counted as a connect that shutdown cancelled, on the
    // route it would have taken, since it was going to connect once it had its name.
    record.reason = ended;
    record.failure = upstream::failure_kind::cancelled;
    finish(record, outcome::connect_failed, owner);
    net::reset(client);
    co_return;
  }
  switch (decision.action.kind) {
    case route_kind::reject:
      finish(record, outcome::rejected, owner);
      net::reset(client);
      co_return;
    case route_kind::echo:
    case route_kind::echo_json: {
      // Built before co_await: GCC 12 destroys a ?: temporary inside a co_await expression twice.
      auto line = decision.action.kind == route_kind::echo
                      ? echo::echo_line(record.source, record.local, record.original, record.original_error)
                      : echo::echo_json({record.source, record.local, original, router.route_name(decision),
                                         router.action_name(decision.action), to_string(record.direction),
                                         record.server_name, to_string(record.name_from)});
      co_await answer(client, std::move(line));
      finish(record, outcome::echoed, owner);
      co_return;
    }
    case route_kind::direct:
    case route_kind::upstream:
      break;
  }

  auto connected = co_await open_upstream(owner, record, client);
  if (!connected.socket) {
    finish(record, outcome::connect_failed, owner);
    net::reset(client);
    co_return;
  }
  if (!connected.early_data.empty()) {
    auto [wec, n] =
        co_await asio::async_write(client, asio::buffer(connected.early_data), asio::as_tuple(asio::use_awaitable));
    if (wec) {
      record.reason = wec.message();
      record.closed_by = closer::client;
      finish(record, outcome::early_data_failed, owner);
      net::reset(*connected.socket);
      net::reset(client);
      co_return;
    }
  }
  relayed_session::start(owner, std::move(client), std::move(*connected.socket), std::move(record));
}

}  // namespace detour::proxy
