#include "detour/upstream/proxy_connector.hpp"

#include "detour/net/sockaddr.hpp"
#include "detour/upstream/http_connect.hpp"
#include "detour/upstream/proxy_destination.hpp"
#include "detour/upstream/socks5.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <functional>

namespace detour::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

// How one server's handshake ended.
struct handshake_result {
  std::string failure;  // empty: success
  // The server went away without an answer (closed, reset): another server may do better.
  bool try_next = false;
  std::string early_data;
};

using parser = std::function<parse_result(std::string_view)>;

// Sends `request`, then reads until `parse` gives a verdict on what arrived. `received` carries bytes
// between steps; on success the reply is removed from its front and the rest stays.
asio::awaitable<handshake_result> exchange(net::socket& socket, std::string_view protocol, std::string_view request,
                                           std::string& received, const parser& parse) {
  if (!request.empty()) {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(request), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return handshake_result{fmt::format("{}: sending to the proxy: {}", protocol, ec.message()), true, {}};
  }
  for (;;) {
    auto verdict = parse(received);
    if (verdict.is_error()) co_return handshake_result{verdict.error, false, {}};
    if (verdict.is_done()) {
      received.erase(0, verdict.consumed);
      co_return handshake_result{};
    }
    char chunk[4096];
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::eof) {
      co_return handshake_result{fmt::format("{}: proxy closed the connection before answering", protocol), true, {}};
    }
    if (ec) co_return handshake_result{fmt::format("{}: reading from the proxy: {}", protocol, ec.message()), true, {}};
    received.append(chunk, n);
  }
}

asio::awaitable<handshake_result> socks5_handshake(net::socket& socket, proxy_destination target,
                                                   const upstream_config& upstream) {
  std::string received;
  const bool with_password = !upstream.username.empty();
  std::uint8_t method = 0;
  auto r = co_await exchange(socket, "socks5", socks5_greeting(with_password), received,
                             [&](std::string_view s) { return parse_socks5_method_reply(s, with_password, method); });
  if (!r.failure.empty()) co_return r;
  if (method == socks5_method_password) {
    r = co_await exchange(socket, "socks5", socks5_password_request(upstream.username, upstream.password), received,
                          parse_socks5_password_reply);
    if (!r.failure.empty()) co_return r;
  }
  auto request = target.by_name() ? socks5_connect_request(target.name, target.address.port())
                                  : socks5_connect_request(target.address);
  r = co_await exchange(socket, "socks5", request, received, parse_socks5_connect_reply);
  if (r.failure.empty()) r.early_data = std::move(received);
  co_return r;
}

asio::awaitable<handshake_result> http_handshake(net::socket& socket, proxy_destination target,
                                                 const upstream_config& upstream) {
  std::string received;
  auto request = target.by_name()
                     ? http_connect_request(target.name, target.address.port(), upstream.username, upstream.password)
                     : http_connect_request(target.address, upstream.username, upstream.password);
  auto r = co_await exchange(socket, "http", request, received, parse_http_connect_response);
  if (r.failure.empty()) r.early_data = std::move(received);
  co_return r;
}

// Null: no handshake, the connection is ready once TCP is (kind forward).
using handshake_fn = asio::awaitable<handshake_result> (*)(net::socket&, proxy_destination, const upstream_config&);

asio::awaitable<connect_outcome> connect_through(tcp::endpoint target, const upstream_config& upstream,
                                                 connect_options options, handshake_fn handshake) {
  using namespace asio::experimental::awaitable_operators;
  connect_outcome out;
  const auto kind = std::string(to_string(upstream.kind));
  // A forward upstream asks for nothing; the others say so in `via` when they ask for a name.
  const auto destination =
      handshake == nullptr ? proxy_destination{target, {}} : choose_destination(upstream, target, options.server_name);
  const auto asked = destination.by_name() ? " as " + to_string(destination) : std::string();
  out.via = fmt::format("{} {}{}", kind, upstream.name, asked);
  const auto executor = co_await worker_executor();
  const auto deadline = clock_type::now() + options.timeout;
  std::vector<std::string> unreachable;
  for (std::size_t i = 0; i < upstream.servers.size(); ++i) {
    if (options.cancellation != nullptr && options.cancellation->cancelled()) {
      out.failure = "cancelled";
      out.kind = failure_kind::cancelled;
      co_return out;
    }
    const auto& server = upstream.servers[i];
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (remaining.count() <= 0) {
      unreachable.push_back(fmt::format("{}: not tried, connect timeout", net::to_string(server)));
      out.kind = failure_kind::timeout;
      continue;
    }
    auto share = remaining / static_cast<std::int64_t>(upstream.servers.size() - i);
    attempt_error failure;
    auto socket = open_upstream_socket(executor, server.protocol(), options, failure);
    if (!socket) {
      out.failure = std::move(failure.text);
      out.kind = failure.kind;
      co_return out;
    }
    watched_socket watched(options.cancellation, *socket);
    failure = co_await connect_within(*socket, server, std::max(share, std::chrono::milliseconds(1)));
    if (failure.failed()) {
      unreachable.push_back(fmt::format("{}: {}", net::to_string(server), failure.text));
      out.kind = failure.kind;
      continue;
    }
    out.via = fmt::format("{} {} ({}){}", kind, upstream.name, net::to_string(server), asked);
    out.server = server;
    if (handshake == nullptr) {
      out.socket = std::move(socket);
      co_return out;
    }
    asio::steady_timer timer(executor, deadline);
    auto result =
        co_await (handshake(*socket, destination, upstream) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) {
      out.failure = fmt::format("{}: connect timeout (no answer from the proxy)", kind);
      out.kind = failure_kind::timeout;
      co_return out;
    }
    auto& r = std::get<0>(result);
    if (r.failure.empty()) {
      out.socket = std::move(socket);
      out.early_data = std::move(r.early_data);
      co_return out;
    }
    if (!r.try_next) {
      out.failure = std::move(r.failure);
      out.kind = failure_kind::proxy_refused;
      co_return out;
    }
    unreachable.push_back(fmt::format("{}: {}", net::to_string(server), r.failure));
    out.kind = options.cancellation != nullptr && options.cancellation->cancelled() ? failure_kind::cancelled
                                                                                    : failure_kind::proxy_error;
  }
  out.via = fmt::format("{} {}{}", kind, upstream.name, asked);
  out.server.reset();
  out.failure = unreachable.size() == 1
                    ? unreachable.front()
                    : fmt::format("all {} servers failed: {}", unreachable.size(), fmt::join(unreachable, "; "));
  co_return out;
}

}  // namespace

asio::awaitable<connect_outcome> connect_socks5(tcp::endpoint target, const upstream_config& upstream,
                                                connect_options options) {
  return connect_through(std::move(target), upstream, options, socks5_handshake);
}

asio::awaitable<connect_outcome> connect_http(tcp::endpoint target, const upstream_config& upstream,
                                              connect_options options) {
  return connect_through(std::move(target), upstream, options, http_handshake);
}

asio::awaitable<connect_outcome> connect_forward(tcp::endpoint target, const upstream_config& upstream,
                                                 connect_options options) {
  return connect_through(std::move(target), upstream, options, nullptr);
}

asio::awaitable<connect_outcome> connect_upstream(tcp::endpoint target, const upstream_config& upstream,
                                                  connect_options options) {
  switch (upstream.kind) {
    case upstream_kind::http:
      return connect_http(std::move(target), upstream, options);
    case upstream_kind::forward:
      return connect_forward(std::move(target), upstream, options);
    case upstream_kind::socks5:
      break;
  }
  return connect_socks5(std::move(target), upstream, options);
}

}  // namespace detour::upstream
