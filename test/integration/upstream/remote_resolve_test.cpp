// `resolve: remote` against real proxies: the connectors ask microsocks and tinyproxy for a name
// that only the proxy can resolve. Each proxy reads a private /etc/hosts (support/upstream_proxies.hpp,
// proxy_options::hosts_file) that maps only-proxy.test to 10.77.0.20; the test process, on the
// host's /etc/hosts, cannot resolve the name at all. The original destination, 10.77.0.2, has a
// decoy on the same port, so whichever the proxy reached answers for itself.
#include "detour/upstream/proxy_connector.hpp"

#include "detour/net/sockaddr.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/tcp.hpp"
#include "support/temp_dir.hpp"
#include "support/upstream_proxies.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <optional>

using namespace detour::test;
namespace asio = boost::asio;

namespace {

constexpr std::string_view only_proxy_name = "only-proxy.test";
constexpr std::string_view named_address = "10.77.0.20";  // where the proxy's /etc/hosts sends the name
constexpr std::string_view original_address = "10.77.0.2";
constexpr std::string_view socks_address = "10.77.0.10";
constexpr std::string_view http_address = "10.77.0.12";

// The test process resolves through the host's /etc/hosts; looking for the name there, not with
// getaddrinfo, keeps the check from asking DNS anything.
bool in_host_hosts_file(std::string_view name) { return file_contents("/etc/hosts").find(name) != std::string::npos; }

// A fresh namespace with the name's address, the original destination's and the proxies', and a
// hosts file for the proxies. No redirect rule: the connectors run in the test process itself.
struct remote_resolve_net {
  remote_resolve_net() {
    enter_new_netns();
    port = free_port();
    for (auto address : {named_address, original_address, socks_address, http_address}) {
      add_local_address(fmt::format("{}/32", address));
    }
    hosts_file = dir.write("hosts", fmt::format("127.0.0.1 localhost\n{} {}\n", named_address, only_proxy_name));
    // The proxies read it after dropping to their own users.
    ::chmod(hosts_file.c_str(), 0644);
  }

  proxy_options options() const { return {.username = {}, .password = {}, .hosts_file = hosts_file}; }

  temp_dir dir;
  std::filesystem::path hosts_file;
  std::uint16_t port = 0;  // the destination's, on both of its addresses
  std::string host_hosts = file_contents("/etc/hosts");
};

// A proxy of `kind` from the test's list, with the private /etc/hosts.
struct running_proxy {
  running_proxy(const remote_resolve_net& net, detour::upstream_kind kind) {
    const bool socks = kind == detour::upstream_kind::socks5;
    const auto listen_at = at(socks ? socks_address : http_address, free_port());
    if (socks) {
      microsocks_.emplace(net.dir, listen_at, net.options());
    } else {
      tinyproxy_.emplace(net.dir, listen_at, net.options());
    }
    upstream.name = "corp";
    upstream.kind = kind;
    upstream.servers = {listen_at};
  }
  proxy_process& process() { return microsocks_ ? static_cast<proxy_process&>(*microsocks_) : *tinyproxy_; }
  // What the proxy logs when it is asked for `host_port`: microsocks the connection it made,
  // tinyproxy the CONNECT line it read.
  std::string asked_for(std::string_view host_port) const {
    return microsocks_ ? fmt::format(": connected to {}", host_port) : fmt::format("CONNECT {} HTTP/1.1", host_port);
  }
  std::string via(std::string_view suffix = "") {
    return fmt::format("{} corp ({}){}", to_string(upstream.kind), detour::net::to_string(process().address()), suffix);
  }

  detour::upstream_config upstream;

 private:
  std::optional<microsocks> microsocks_;
  std::optional<tinyproxy> tinyproxy_;
};

struct connected {
  detour::upstream::connect_outcome outcome;
  socket_fd socket;  // taken out of the outcome, so it outlives the io_context
};

// Runs the connector for `upstream` to `target` as a session would, with `server_name` sniffed.
connected connect_through(const detour::upstream_config& upstream, const endpoint& target,
                          std::string_view server_name) {
  asio::io_context context;
  auto future = asio::co_spawn(
      context, detour::upstream::connect_upstream(target, upstream, {0, 10s, nullptr, server_name}), asio::use_future);
  context.run();
  connected out{future.get(), {}};
  if (out.outcome.socket) out.socket = socket_fd(out.outcome.socket->release());
  out.outcome.socket.reset();
  return out;
}

// Answers each connection with one line naming the address it listens on, then waits for EOF.
tcp_server::handler says_who(std::string_view address) {
  return [line = fmt::format("this is {}\n", address)](int fd) {
    send_all(fd, line);
    read_until_eof(fd, 5s);
    return received_digest{};
  };
}

// One HTTP answer naming `address`, after the request head.
tcp_server::handler http_says_who(std::string_view address) {
  return [body = fmt::format("hello from {}\n", address)](int fd) {
    std::string head;
    for (int i = 0; i < 8192 && head.find("\r\n\r\n") == std::string::npos; ++i) {
      auto got = read_exactly(fd, 1, 5s);
      if (got.bytes.empty()) return received_digest{};
      head += got.bytes;
    }
    send_all(fd,
             fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.size(), body));
    return received_digest{};
  };
}

// The server's first line: it speaks first, so its bytes may have come with the proxy's reply,
// which the connector hands over as early data.
std::string first_line(const connected& c) {
  std::string line = c.outcome.early_data;
  for (int i = 0; i < 64 && line.find('\n') == std::string::npos; ++i) {
    auto got = read_exactly(c.socket.get(), 1, 5s);
    if (got.bytes.empty()) break;
    line += got.bytes;
  }
  return line;
}

detour::upstream_kind kind_of_section(bool socks) {
  return socks ? detour::upstream_kind::socks5 : detour::upstream_kind::http;
}

}  // namespace

TEST_CASE("resolve remote: a name only the proxy can resolve is reached through microsocks and tinyproxy",
          "[upstream][remote_resolve]") {
  remote_resolve_net net;
  REQUIRE_FALSE(in_host_hosts_file(only_proxy_name));
  bool socks = true;
  SECTION("microsocks") { socks = true; }
  SECTION("tinyproxy") { socks = false; }
  running_proxy proxy(net, kind_of_section(socks));
  proxy.upstream.resolve = detour::name_resolution::remote;

  // 200 kB up, 300 kB down, each checked by hash, from the server the name leads to.
  payload up(91, 200'000);
  payload down(92, 300'000);
  tcp_server named(at(named_address, net.port), [&](int fd) {
    auto request = read_exactly(fd, static_cast<std::size_t>(up.size()));
    received_digest seen{request.bytes.size(), sha1_hex(request.bytes), request.end};
    send_payload(fd, down);
    return seen;
  });
  sink_server decoy(at(original_address, net.port));

  auto c = connect_through(proxy.upstream, at(original_address, net.port), only_proxy_name);
  REQUIRE(c.socket);
  const auto asked = fmt::format("{}:{}", only_proxy_name, net.port);
  CHECK(c.outcome.via == proxy.via(" as " + asked));
  send_payload(c.socket.get(), up);
  auto got = hash_until_eof(c.socket.get());
  auto seen = named.wait_for_report();
  CHECK(seen.received.size == up.size());
  CHECK(seen.received.sha1 == up.sha1());
  CHECK(got.size == down.size());
  CHECK(got.sha1 == down.sha1());
  CHECK(proxy.process().process().wait_for_output(proxy.asked_for(asked)));
  CHECK(decoy.connections_accepted() == 0);
  // The name was the proxy's alone: the host's /etc/hosts is as it was.
  CHECK(file_contents("/etc/hosts") == net.host_hosts);
}

TEST_CASE("resolve local: the upstream proxy is asked for the original destination's address, whatever the name",
          "[upstream][remote_resolve]") {
  remote_resolve_net net;
  bool socks = true;
  SECTION("microsocks") { socks = true; }
  SECTION("tinyproxy") { socks = false; }
  running_proxy proxy(net, kind_of_section(socks));
  REQUIRE(proxy.upstream.resolve == detour::name_resolution::local);
  tcp_server named(at(named_address, net.port), says_who(named_address));
  tcp_server original(at(original_address, net.port), says_who(original_address));

  auto c = connect_through(proxy.upstream, at(original_address, net.port), only_proxy_name);
  REQUIRE(c.socket);
  CHECK(c.outcome.via == proxy.via());
  CHECK(first_line(c) == fmt::format("this is {}\n", original_address));
  CHECK(proxy.process().process().wait_for_output(proxy.asked_for(fmt::format("{}:{}", original_address, net.port))));
  CHECK(named.connections_accepted() == 0);
}

TEST_CASE("resolve remote: a server name with a byte no host name has is sent as the address instead",
          "[upstream][remote_resolve]") {
  remote_resolve_net net;
  bool socks = true;
  SECTION("microsocks") { socks = true; }
  SECTION("tinyproxy") { socks = false; }
  running_proxy proxy(net, kind_of_section(socks));
  proxy.upstream.resolve = detour::name_resolution::remote;
  tcp_server named(at(named_address, net.port), says_who(named_address));
  tcp_server original(at(original_address, net.port), says_who(original_address));

  const auto hostile = fmt::format("{}\r\nX-Injected: 1", only_proxy_name);
  auto c = connect_through(proxy.upstream, at(original_address, net.port), hostile);
  REQUIRE(c.socket);
  CHECK(c.outcome.via == proxy.via());
  CHECK(first_line(c) == fmt::format("this is {}\n", original_address));
  CHECK(proxy.process().process().wait_for_output(proxy.asked_for(fmt::format("{}:{}", original_address, net.port))));
  CHECK(proxy.process().process().output().find("X-Injected") == std::string::npos);
  CHECK(named.connections_accepted() == 0);
}

TEST_CASE("resolve remote: without a sniffed name the proxy is asked for the address", "[upstream][remote_resolve]") {
  remote_resolve_net net;
  running_proxy proxy(net, detour::upstream_kind::socks5);
  proxy.upstream.resolve = detour::name_resolution::remote;
  tcp_server original(at(original_address, net.port), says_who(original_address));

  auto c = connect_through(proxy.upstream, at(original_address, net.port), "");
  REQUIRE(c.socket);
  CHECK(c.outcome.via == proxy.via());
  CHECK(first_line(c) == fmt::format("this is {}\n", original_address));
}

// Through detourd, as a workstation's program would go: curl believes only-proxy.test is the
// original destination 10.77.0.2 (--resolve), where a decoy answers; detourd, with the name from
// the Host header, asks microsocks for it, and the proxy's own /etc/hosts leads to 10.77.0.20.
// The web server's port is chosen per test, so sniffing is turned on for it.
TEST_CASE("detourd with resolve remote hands the Host name to microsocks, which reaches the address it resolves",
          "[upstream][remote_resolve]") {
  proxied_workstation ws("socks", {std::string(socks_address)}, {std::string(named_address)});
  const auto hosts = ws.dir.write("hosts", fmt::format("127.0.0.1 localhost\n{} {}\n", named_address, only_proxy_name));
  ::chmod(hosts.c_str(), 0644);
  microsocks proxy(ws.dir, at(socks_address, free_port()),
                   proxy_options{.username = {}, .password = {}, .hosts_file = hosts});
  const auto web_port = free_port();
  tcp_server named(at(named_address, web_port), http_says_who(named_address));
  tcp_server decoy(at(original_address, web_port), http_says_who(original_address));
  detourd_process detourd(
      ws.upstream_config(fmt::format("    kind: socks5\n    address: \"{}:{}\"\n    resolve: remote\n", socks_address,
                                     proxy.address().port())) +
      fmt::format("sniff: {{ports: [{}]}}\n", web_port));

  auto run = run_to_completion({"/usr/bin/curl", "--silent", "--show-error", "--max-time", "10", "--noproxy", "*",
                                "--resolve", fmt::format("{}:{}:{}", only_proxy_name, web_port, original_address),
                                fmt::format("http://{}:{}/", only_proxy_name, web_port)},
                               20s);
  CAPTURE(run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out == fmt::format("hello from {}\n", named_address));
  const auto asked = fmt::format("{}:{}", only_proxy_name, web_port);
  CHECK(proxy.process().wait_for_output(": connected to " + asked));
  CHECK(detourd.wait_for_log(
      fmt::format("socks5 socks ({}:{}) as {} closed", socks_address, proxy.address().port(), asked)));
  CHECK(decoy.connections_accepted() == 0);
}
