// The SOCKS5 and HTTP CONNECT connectors against scripted fake proxies on loopback: every reply,
// early data, failover between servers and the time bound. Real proxies are in the integration
// tests (test/integration/upstream_*_test.cpp).
#include "detour/upstream/proxy_connector.hpp"

#include "detour/net/sockaddr.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <functional>

namespace asio = boost::asio;
using asio::ip::tcp;
using detour::upstream::connect_outcome;

namespace {

// "05 00 01" -> the bytes 5, 0, 1. Coroutine bodies use this, not bytes({...}): GCC 12 cannot put an
// initializer_list in a coroutine frame ("array used as initializer").
std::string hex(std::string_view text) {
  std::string out;
  unsigned value = 0;
  int digits = 0;
  for (char c : text) {
    if (c == ' ') continue;
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
    if (++digits == 2) {
      out += static_cast<char>(static_cast<unsigned char>(value));
      value = 0;
      digits = 0;
    }
  }
  return out;
}

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (auto v : values) out += static_cast<char>(static_cast<unsigned char>(v));
  return out;
}

// What a fake proxy read, checked by the test afterwards: Catch2's assertion macros cannot be used
// inside coroutine bodies with GCC 12 ("array used as initializer").
using transcript = std::vector<std::string>;
using script = std::function<asio::awaitable<void>(tcp::socket&, transcript&)>;

// A proxy on 127.0.0.1:<ephemeral> that runs `body` on each accepted connection, counting them.
struct fake_proxy {
  fake_proxy(asio::io_context& context, script body)
      : acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(context, serve(std::move(body)), asio::detached);
  }
  asio::awaitable<void> serve(script body) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++accepted;
      try {
        co_await body(socket, seen);
      } catch (const std::exception&) {
        // The connector hung up mid-script: what some tests do on purpose.
      }
      held.push_back(std::move(socket));
    }
  }
  tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

  tcp::acceptor acceptor;
  transcript seen;
  std::vector<tcp::socket> held;  // kept open, so the connector sees no FIN it did not ask for
  int accepted = 0;
};

// A port where nothing listens: bound, never listening, so the kernel answers SYN with RST.
struct closed_port {
  explicit closed_port(asio::io_context& context) : socket(context) {
    socket.open(tcp::v4());
    socket.bind({asio::ip::make_address("127.0.0.1"), 0});
  }
  tcp::endpoint endpoint() const { return socket.local_endpoint(); }
  tcp::socket socket;
};

asio::awaitable<std::string> read_exactly(tcp::socket& s, std::size_t n) {
  std::string data(n, '\0');
  co_await asio::async_read(s, asio::buffer(data), asio::use_awaitable);
  co_return data;
}

asio::awaitable<void> write(tcp::socket& s, std::string data) {
  co_await asio::async_write(s, asio::buffer(data), asio::use_awaitable);
}

// Reads an HTTP request head up to its empty line.
asio::awaitable<std::string> read_head(tcp::socket& s) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) head += co_await read_exactly(s, 1);
  co_return head;
}

detour::upstream_config upstream(detour::upstream_kind kind, std::vector<tcp::endpoint> servers) {
  detour::upstream_config u;
  u.name = "corp";
  u.kind = kind;
  u.servers = std::move(servers);
  return u;
}

const tcp::endpoint target(asio::ip::make_address("192.0.2.10"), 443);

connect_outcome connect(asio::io_context& context, const detour::upstream_config& u,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5),
                        std::string_view server_name = {}) {
  auto future = asio::co_spawn(
      context, detour::upstream::connect_upstream(target, u, {0, timeout, nullptr, server_name}), asio::use_future);
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) context.run_one();
  return future.get();
}

asio::awaitable<void> socks5_accept_no_auth(tcp::socket& s, transcript& seen) {
  seen.push_back(co_await read_exactly(s, 3));
  co_await write(s, hex("05 00"));
  seen.push_back(co_await read_exactly(s, 10));
}

const transcript no_auth_connect{bytes({5, 1, 0}), bytes({5, 1, 0, 1, 192, 0, 2, 10, 1, 187})};

}  // namespace

TEST_CASE("socks5: a successful handshake hands over the socket and the proxy's early bytes", "[upstream]") {
  asio::io_context context;
  fake_proxy proxy(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    co_await socks5_accept_no_auth(s, seen);
    co_await write(s, hex("05 00 00 01 0a 00 00 01 12 34") + "SSH-2.0-x\r\n");
    seen.push_back(co_await read_exactly(s, 4));
    co_await write(s, "pong");
  });
  auto out = connect(context, upstream(detour::upstream_kind::socks5, {proxy.endpoint()}));
  REQUIRE(out.socket);
  CHECK(out.failure.empty());
  CHECK(out.kind == detour::upstream::failure_kind::none);
  CHECK(out.server == proxy.endpoint());
  CHECK(out.early_data == "SSH-2.0-x\r\n");
  CHECK(out.via == "socks5 corp (" + detour::net::to_string(proxy.endpoint()) + ")");
  asio::write(*out.socket, asio::buffer(std::string("ping")));
  std::string reply(4, '\0');
  auto read_reply = asio::co_spawn(context, asio::async_read(*out.socket, asio::buffer(reply), asio::use_awaitable),
                                   asio::use_future);
  while (read_reply.wait_for(std::chrono::seconds(0)) != std::future_status::ready) context.run_one();
  CHECK(reply == "pong");
  auto expected = no_auth_connect;
  expected.push_back("ping");
  CHECK(proxy.seen == expected);
}

TEST_CASE("socks5: username and password are sent when configured and a refusal is final", "[upstream]") {
  asio::io_context context;
  auto login = [](unsigned status) {
    return [status](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
      seen.push_back(co_await read_exactly(s, 4));
      co_await write(s, hex("05 02"));
      seen.push_back(co_await read_exactly(s, 12));
      // A named local: GCC 12 destroys a ?: temporary twice inside co_await.
      std::string reply = status == 0 ? hex("01 00") : hex("01 01");
      co_await write(s, reply);
      if (status != 0) co_return;
      seen.push_back(co_await read_exactly(s, 10));
      co_await write(s, hex("05 00 00 01 00 00 00 00 00 00"));
    };
  };
  SECTION("accepted") {
    fake_proxy proxy(context, login(0));
    auto u = upstream(detour::upstream_kind::socks5, {proxy.endpoint()});
    u.username = "alice";
    u.password = "s3cr";
    auto out = connect(context, u);
    CHECK(out.socket);
    CHECK(out.early_data.empty());
    CHECK(proxy.seen == transcript{bytes({5, 2, 0, 2}), bytes({1, 5}) + "alice" + bytes({4}) + "s3cr",
                                   bytes({5, 1, 0, 1, 192, 0, 2, 10, 1, 187})});
  }
  SECTION("refused, and the next server is not asked") {
    fake_proxy proxy(context, login(1));
    fake_proxy second(context, login(0));
    auto u = upstream(detour::upstream_kind::socks5, {proxy.endpoint(), second.endpoint()});
    u.username = "alice";
    u.password = "s3cr";
    auto out = connect(context, u);
    CHECK_FALSE(out.socket);
    CHECK(out.failure == "socks5: authentication failed, wrong username or password (status=1)");
    CHECK(out.failure.find("s3cr") == std::string::npos);
    CHECK(second.accepted == 0);
  }
}

TEST_CASE("socks5: a failure reply code is the logged reason", "[upstream]") {
  asio::io_context context;
  fake_proxy proxy(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    co_await socks5_accept_no_auth(s, seen);
    co_await write(s, hex("05 05 00 01 00 00 00 00 00 00"));
  });
  auto out = connect(context, upstream(detour::upstream_kind::socks5, {proxy.endpoint()}));
  CHECK_FALSE(out.socket);
  CHECK(out.failure == "socks5: connection refused by destination (rep=5)");
  CHECK(out.kind == detour::upstream::failure_kind::proxy_refused);
  CHECK(proxy.seen == no_auth_connect);
}

TEST_CASE("an unreachable server, or one that closes before answering, passes to the next", "[upstream]") {
  asio::io_context context;
  closed_port down(context);
  fake_proxy hangs_up(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_exactly(s, 3));
    s.close();
  });
  fake_proxy good(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    co_await socks5_accept_no_auth(s, seen);
    co_await write(s, hex("05 00 00 01 00 00 00 00 00 00"));
  });
  auto out = connect(context,
                     upstream(detour::upstream_kind::socks5, {down.endpoint(), hangs_up.endpoint(), good.endpoint()}));
  CHECK(out.socket);
  CHECK(out.via == "socks5 corp (" + detour::net::to_string(good.endpoint()) + ")");
  CHECK(hangs_up.accepted == 1);
  CHECK(hangs_up.seen == transcript{bytes({5, 1, 0})});
  CHECK(good.seen == no_auth_connect);
}

TEST_CASE("when every server is down the failure lists each one", "[upstream]") {
  asio::io_context context;
  closed_port a(context);
  closed_port b(context);
  auto a_text = detour::net::to_string(a.endpoint());
  auto b_text = detour::net::to_string(b.endpoint());
  SECTION("two servers") {
    auto out = connect(context, upstream(detour::upstream_kind::http, {a.endpoint(), b.endpoint()}));
    CHECK_FALSE(out.socket);
    CHECK(out.via == "http corp");
    CHECK(out.failure ==
          "all 2 servers failed: " + a_text + ": Connection refused; " + b_text + ": Connection refused");
    CHECK(out.kind == detour::upstream::failure_kind::refused);
    CHECK_FALSE(out.server);
  }
  SECTION("one server") {
    auto out = connect(context, upstream(detour::upstream_kind::socks5, {a.endpoint()}));
    CHECK(out.failure == a_text + ": Connection refused");
  }
}

TEST_CASE("a proxy that never answers, or drips, is given up on at the connect timeout", "[upstream]") {
  asio::io_context context;
  fake_proxy silent(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_exactly(s, 1000000));  // never completes: the connector stops first
  });
  fake_proxy drip(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_head(s));
    co_await write(s, "HTTP/1.1 200 OK\r\n");
    asio::steady_timer timer(s.get_executor());
    for (int i = 0; i < 1000; ++i) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::use_awaitable);
      co_await write(s, "X");
    }
  });
  auto start = std::chrono::steady_clock::now();
  auto out =
      connect(context, upstream(detour::upstream_kind::socks5, {silent.endpoint()}), std::chrono::milliseconds(300));
  CHECK(out.failure == "socks5: connect timeout (no answer from the proxy)");
  CHECK(out.kind == detour::upstream::failure_kind::timeout);
  out = connect(context, upstream(detour::upstream_kind::http, {drip.endpoint()}), std::chrono::milliseconds(300));
  CHECK(out.failure == "http: connect timeout (no answer from the proxy)");
  CHECK_FALSE(out.socket);
  // A bound, not a synchronisation: both attempts together must end well within 10 timeouts.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("http: a 2xx answer opens the tunnel, with Basic auth and early data", "[upstream]") {
  asio::io_context context;
  fake_proxy proxy(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_head(s));
    co_await write(s, "HTTP/1.0 200 Connection established\r\nProxy-agent: fake\r\n\r\nhello");
  });
  auto u = upstream(detour::upstream_kind::http, {proxy.endpoint()});
  u.username = "Aladdin";
  u.password = "open sesame";
  auto out = connect(context, u);
  REQUIRE(out.socket);
  CHECK(out.early_data == "hello");
  CHECK(proxy.seen == transcript{"CONNECT 192.0.2.10:443 HTTP/1.1\r\nHost: 192.0.2.10:443\r\n"
                                 "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"});
}

TEST_CASE("http: a refusal, a foreign protocol or an endless head is the logged reason", "[upstream]") {
  asio::io_context context;
  auto answer = [](std::string reply) {
    return [reply](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
      seen.push_back(co_await read_head(s));
      co_await write(s, reply);
    };
  };
  auto failure_for = [&](std::string reply) {
    fake_proxy proxy(context, answer(std::move(reply)));
    auto out = connect(context, upstream(detour::upstream_kind::http, {proxy.endpoint()}));
    CHECK_FALSE(out.socket);
    return out.failure;
  };
  CHECK(failure_for("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n") ==
        "http: 407 proxy authentication required");
  CHECK(failure_for("HTTP/1.1 502 Bad Gateway\r\n\r\n") == "http: 502 bad gateway");
  CHECK(failure_for(bytes({5, 0})) == "http: not an HTTP response from the proxy");
  CHECK(failure_for("HTTP/1.1 200 OK\r\n" + std::string(20000, 'h')) == "http: response head longer than 16384 bytes");
}

TEST_CASE("remote resolution asks every server in turn for the name and says so in via", "[upstream]") {
  asio::io_context context;
  closed_port down(context);
  fake_proxy hangs_up(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_exactly(s, 3));
    co_await write(s, hex("05 00"));
    seen.push_back(co_await read_exactly(s, 4 + 1 + 15 + 2));
    s.close();
  });
  fake_proxy good(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_exactly(s, 3));
    co_await write(s, hex("05 00"));
    seen.push_back(co_await read_exactly(s, 4 + 1 + 15 + 2));
    co_await write(s, hex("05 00 00 01 00 00 00 00 00 00"));
  });
  auto u = upstream(detour::upstream_kind::socks5, {down.endpoint(), hangs_up.endpoint(), good.endpoint()});
  u.resolve = detour::name_resolution::remote;
  auto out = connect(context, u, std::chrono::seconds(5), "www.example.com");
  REQUIRE(out.socket);
  CHECK(out.via == "socks5 corp (" + detour::net::to_string(good.endpoint()) + ") as www.example.com:443");
  const transcript by_name{bytes({5, 1, 0}), bytes({5, 1, 0, 3, 15}) + "www.example.com" + bytes({1, 187})};
  CHECK(hangs_up.seen == by_name);
  CHECK(good.seen == by_name);
}

TEST_CASE("when no server answers a name asked for, via still names it", "[upstream]") {
  asio::io_context context;
  closed_port a(context);
  auto u = upstream(detour::upstream_kind::http, {a.endpoint()});
  u.resolve = detour::name_resolution::remote;
  auto out = connect(context, u, std::chrono::seconds(5), "www.example.com");
  CHECK_FALSE(out.socket);
  CHECK(out.via == "http corp as www.example.com:443");
}

TEST_CASE("http: remote resolution sends the name, local resolution and a bad name the address", "[upstream]") {
  asio::io_context context;
  fake_proxy proxy(context, [](tcp::socket& s, transcript& seen) -> asio::awaitable<void> {
    seen.push_back(co_await read_head(s));
    co_await write(s, "HTTP/1.1 200 Connection established\r\n\r\n");
  });
  auto u = upstream(detour::upstream_kind::http, {proxy.endpoint()});
  const auto server = detour::net::to_string(proxy.endpoint());
  SECTION("remote") {
    u.resolve = detour::name_resolution::remote;
    auto out = connect(context, u, std::chrono::seconds(5), "www.example.com");
    CHECK(out.socket);
    CHECK(out.via == "http corp (" + server + ") as www.example.com:443");
    CHECK(proxy.seen == transcript{"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n"});
  }
  SECTION("local") {
    auto out = connect(context, u, std::chrono::seconds(5), "www.example.com");
    CHECK(out.socket);
    CHECK(out.via == "http corp (" + server + ")");
    CHECK(proxy.seen == transcript{"CONNECT 192.0.2.10:443 HTTP/1.1\r\nHost: 192.0.2.10:443\r\n\r\n"});
  }
  SECTION("remote, with a name that would add a header") {
    u.resolve = detour::name_resolution::remote;
    auto out = connect(context, u, std::chrono::seconds(5), "a.example\r\nX-Injected: 1");
    CHECK(out.socket);
    CHECK(out.via == "http corp (" + server + ")");
    CHECK(proxy.seen == transcript{"CONNECT 192.0.2.10:443 HTTP/1.1\r\nHost: 192.0.2.10:443\r\n\r\n"});
  }
}

TEST_CASE("a forward upstream ignores the server name", "[upstream]") {
  asio::io_context context;
  fake_proxy backend(context, [](tcp::socket&, transcript&) -> asio::awaitable<void> { co_return; });
  auto u = upstream(detour::upstream_kind::forward, {backend.endpoint()});
  auto out = connect(context, u, std::chrono::seconds(5), "www.example.com");
  CHECK(out.socket);
  CHECK(out.via == "forward corp (" + detour::net::to_string(backend.endpoint()) + ")");
}
