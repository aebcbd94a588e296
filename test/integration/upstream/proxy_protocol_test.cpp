// The PROXY protocol header towards real servers that read it: nginx (`listen ... proxy_protocol`,
// versions 1 and 2) and HAProxy (`bind ... accept-proxy`). The test's namespace is a workstation
// whose outbound TCP goes through detourd; each server reports, in its own log or answer, the
// client address and original destination it read from the header detourd sent.
#include "support/upstream_proxies.hpp"

#include "detour/net/sockaddr.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/payload.hpp"
#include "support/proc.hpp"
#include "support/process.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace detour::test;

namespace {

// Where the servers listen: .10 and .11 are forward upstream servers (left alone by the redirect
// rule, as the rule installer excludes upstream servers); .20 is a destination that routes reach
// directly; .30 an original destination with nothing behind it, reached only by a forward upstream.
const std::vector<std::string> server_addresses{"10.77.0.10", "fd77::10", "10.77.0.11", "fd77::11"};
const std::vector<std::string> destination_addresses{"10.77.0.20", "fd77::20", "10.77.0.30", "fd77::30"};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True once `needle` is in the file; a server's log is the only way it tells what it read.
bool wait_for_file_text(const std::filesystem::path& path, std::string_view needle,
                        std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (read_file(path).find(needle) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// nginx reading the PROXY header on `port` of every server and destination address, serving one
// file of `body` and logging what each header said. One process without workers (master_process
// off), as in e2e/workstation_test: the test ends it by its pid.
struct proxy_protocol_nginx {
  proxy_protocol_nginx(const temp_dir& dir, std::uint16_t port, const payload& body)
      : log(dir.path() / "pp-access.log"),
        process(
            {"/usr/sbin/nginx", "-p", dir.path().string(), "-c", config(dir, port, body).string(), "-g", "daemon off;"},
            dir.path() / "nginx.out") {
    wait_until_listening(port);
  }

  static std::filesystem::path config(const temp_dir& dir, std::uint16_t port, const payload& body) {
    std::filesystem::create_directories(dir.path() / "www");
    std::string bytes(static_cast<std::size_t>(body.size()), '\0');
    body.fill(0, bytes);
    dir.write("www/body.bin", bytes);
    std::string listens;
    for (const auto* list : {&server_addresses, &destination_addresses}) {
      for (const auto& address : *list) {
        listens += fmt::format("    listen {}:{} proxy_protocol;\n",
                               address.find(':') == std::string::npos ? address : "[" + address + "]", port);
      }
    }
    return dir.write("nginx.conf", fmt::format(R"(
master_process off;
pid {0}/nginx.pid;
error_log {0}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  log_format pp 'pp client=$proxy_protocol_addr:$proxy_protocol_port '
                'destination=$proxy_protocol_server_addr:$proxy_protocol_server_port '
                'peer=$remote_addr "$request" $status $body_bytes_sent';
  access_log {0}/pp-access.log pp;
  client_body_temp_path {0};
  proxy_temp_path {0};
  fastcgi_temp_path {0};
  uwsgi_temp_path {0};
  scgi_temp_path {0};
  server {{
{1}    root {0}/www;
  }}
}}
)",
                                               dir.path().string(), listens));
  }

  std::filesystem::path log;
  background_process process;
};

// GET /body.bin over `client` (HTTP/1.0, so nginx closes after the answer): the body, with its
// status line checked.
std::string get_body(socket_fd client) {
  send_all(client.get(), "GET /body.bin HTTP/1.0\r\nHost: detour.test\r\n\r\n");
  auto answer = read_until_eof(client.get());
  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes.starts_with("HTTP/1.1 200 OK\r\n"));
  auto end_of_headers = answer.bytes.find("\r\n\r\n");
  REQUIRE(end_of_headers != std::string::npos);
  return answer.bytes.substr(end_of_headers + 4);
}

// "10.77.0.2:51234" as nginx's $proxy_protocol_addr:$proxy_protocol_port writes it: IPv6 without
// brackets.
std::string address_port(const endpoint& e) { return fmt::format("{}:{}", e.address().to_string(), e.port()); }

// What detourd's config says for each way a connection can ask for a header.
struct route_case {
  std::string name;
  std::string client;       // the client's own address
  std::string destination;  // the original destination the client connects to
  std::string upstreams;    // the upstreams section, `{port}` standing for nginx's port
  std::string action;       // the default route's action
};

std::vector<route_case> route_cases(std::string_view version) {
  const auto forward = fmt::format(
      "upstreams:\n  backend:\n    kind: forward\n    servers: [\"10.77.0.10:{{port}}\", \"[fd77::10]:{{port}}\"]\n"
      "    proxy_protocol: {}\n",
      version);
  return {
      {"direct, IPv4", "10.77.0.2", "10.77.0.20", "", fmt::format("{{direct: {{proxy_protocol: {}}}}}", version)},
      {"direct, IPv6", "fd77::2", "fd77::20", "", fmt::format("{{direct: {{proxy_protocol: {}}}}}", version)},
      {"forward, IPv4", "10.77.0.2", "10.77.0.30", forward, "{upstream: backend}"},
      {"forward, IPv6", "fd77::2", "fd77::30", forward, "{upstream: backend}"},
  };
}

// Through detourd to nginx: nginx's log names the client's address and port and the original
// destination from the header, and the body arrives byte for byte.
void check_nginx_reads_header(std::string_view version, std::uint64_t seed) {
  for (const auto& c : route_cases(version)) {
    DYNAMIC_SECTION(c.name) {
      proxied_workstation ws("backend", server_addresses, destination_addresses);
      wait_for_ipv6_addresses({"fd77::2", "fd77::10", "fd77::11", "fd77::20", "fd77::30"});
      const auto nginx_port = free_port();
      const payload body(seed, 300'000);
      proxy_protocol_nginx nginx(ws.dir, nginx_port, body);
      auto upstreams = c.upstreams;
      for (auto at_port = upstreams.find("{port}"); at_port != std::string::npos; at_port = upstreams.find("{port}")) {
        upstreams.replace(at_port, 6, std::to_string(nginx_port));
      }
      // The original destination's port is nginx's for a direct route; for a forward upstream any
      // port, since nothing listens at .30: only the header carries it.
      const auto destination_port = c.upstreams.empty() ? nginx_port : free_port();
      detourd_process detourd(
          test_config(ws.port, "direct", fmt::format("{}routes:\n  - default: {}\n", upstreams, c.action)));

      auto client = connect_from(at(c.client, 0), at(c.destination, destination_port));
      const auto client_end = local_endpoint_of(client.get());
      const auto got = get_body(std::move(client));
      CHECK(got.size() == body.size());
      CHECK(sha1_hex(got) == body.sha1());
      const auto line = fmt::format("pp client={} destination={} ", address_port(client_end),
                                    address_port(at(c.destination, destination_port)));
      const bool logged = wait_for_file_text(nginx.log, line + "peer=");
      INFO("nginx's log: " << read_file(nginx.log));
      CHECK(logged);
      CHECK(wait_for_file_text(nginx.log, "\"GET /body.bin HTTP/1.0\" 200 300000"));
      if (!c.upstreams.empty()) {
        CHECK(detourd.wait_for_log(fmt::format("forward backend (10.77.0.10:{}) closed", nginx_port)));
      }
    }
  }
}

}  // namespace

TEST_CASE("nginx reads detourd's PROXY v1 line: the client and the original destination, bytes intact",
          "[proxy_protocol]") {
  check_nginx_reads_header("v1", 70);
}

TEST_CASE("nginx reads detourd's PROXY v2 header: the client and the original destination, bytes intact",
          "[proxy_protocol]") {
  check_nginx_reads_header("v2", 80);
}

namespace {

// HAProxy taking the PROXY header (`accept-proxy`) on `port` of 10.77.0.11 and fd77::11: it answers
// every HTTP request with the source, destination and unique id it took from the header, and logs
// the client (%ci:%cp) and the frontend address (%fi:%fp) to its stderr.
struct accept_proxy_haproxy {
  accept_proxy_haproxy(const temp_dir& dir, std::uint16_t port)
      : process({"/usr/sbin/haproxy", "-db", "-f", config(dir, port).string()}, dir.path() / "haproxy.out") {
    wait_until_listening(port);
  }

  static std::filesystem::path config(const temp_dir& dir, std::uint16_t port) {
    return dir.write("haproxy.cfg", fmt::format(R"(
global
  log stderr format raw local0
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend pp
  bind 10.77.0.11:{0} accept-proxy
  bind [fd77::11]:{0} accept-proxy
  log-format "pp client=%ci:%cp frontend=%fi:%fp"
  http-request return status 200 content-type text/plain lf-string "src=%[src]:%[src_port] dst=%[dst]:%[dst_port] id=%[fc_pp_unique_id]"
)",
                                                port));
  }

  background_process process;
};

// Until every thread of `pid` is stopped (SIGSTOP has taken effect); throws after 5 s.
void wait_until_stopped(pid_t pid) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    bool all = true;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
      const auto stat = read_file(task.path() / "stat");
      const auto close = stat.rfind(") ");
      if (close == std::string::npos || (stat[close + 2] != 'T' && stat[close + 2] != 't')) all = false;
    }
    if (all) return;
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error("detourd did not stop on SIGSTOP");
    std::this_thread::sleep_for(5ms);
  }
}

// How many segments carrying data the server socket on `local_port` has received from `peer_port`,
// from `ss -ti` (tcpi_data_segs_in, which glibc's struct tcp_info does not have).
unsigned data_segments_in(std::uint16_t local_port, std::uint16_t peer_port) {
  const auto out =
      sh(fmt::format("ss -tinH state established '( sport = :{} and dport = :{} )'", local_port, peer_port));
  const auto at = out.find("data_segs_in:");
  if (at == std::string::npos) return 0;
  return static_cast<unsigned>(std::stoul(out.substr(at + 13)));
}

std::uint16_t peer_port_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return detour::net::to_endpoint(addr).port();
}

// Reads one byte at a time until what was read ends with `suffix` (bounded by read_exactly's
// timeout per byte and by `most` bytes).
std::string read_through(int fd, std::string_view suffix, std::size_t most = 512) {
  std::string seen;
  while (!seen.ends_with(suffix) && seen.size() < most) {
    auto got = read_exactly(fd, 1, 5s);
    if (got.bytes.empty()) break;
    seen += got.bytes;
  }
  return seen;
}

std::string forward_upstream(std::string_view servers, std::string_view proxy_protocol) {
  return fmt::format(
      "upstreams:\n  backend:\n    kind: forward\n    servers: [{}]\n{}routes:\n  - default: {{upstream: backend}}\n",
      servers, proxy_protocol.empty() ? "" : fmt::format("    proxy_protocol: {}\n", proxy_protocol));
}

}  // namespace

TEST_CASE("HAProxy with accept-proxy takes the client and the original destination from detourd's PROXY v2 header",
          "[proxy_protocol]") {
  for (const auto& [client_address, destination_address] :
       {std::pair<std::string, std::string>{"10.77.0.2", "10.77.0.30"}, {"fd77::2", "fd77::30"}}) {
    DYNAMIC_SECTION(client_address) {
      proxied_workstation ws("backend", server_addresses, destination_addresses);
      wait_for_ipv6_addresses({"fd77::2", "fd77::10", "fd77::11", "fd77::20", "fd77::30"});
      const auto haproxy_port = free_port();
      accept_proxy_haproxy haproxy(ws.dir, haproxy_port);
      detourd_process detourd(
          test_config(ws.port, "direct", forward_upstream(fmt::format("\"10.77.0.11:{}\"", haproxy_port), "v2")));

      const auto destination = at(destination_address, free_port());
      auto client = connect_from(at(client_address, 0), destination);
      const auto client_end = local_endpoint_of(client.get());
      send_all(client.get(), "GET / HTTP/1.0\r\nHost: detour.test\r\n\r\n");
      auto answer = read_until_eof(client.get());
      CHECK(answer.end == stream_end::eof);
      CHECK(answer.bytes.starts_with("HTTP/1.1 200 OK\r\n"));
      const auto body = fmt::format("\r\n\r\nsrc={} dst={} id=", address_port(client_end), address_port(destination));
      const auto at_body = answer.bytes.find(body);
      REQUIRE(at_body != std::string::npos);
      // The unique id TLV: detourd's connection id, in decimal.
      const auto id = answer.bytes.substr(at_body + body.size());
      CHECK(!id.empty());
      CHECK(id.find_first_not_of("0123456789") == std::string::npos);
      client.close();  // HAProxy has closed its side; detourd logs the connection once both have
      CHECK(haproxy.process.wait_for_output(
          fmt::format("pp client={} frontend={}", address_port(client_end), address_port(destination))));
      CHECK(detourd.wait_for_log(fmt::format("forward backend (10.77.0.11:{}) closed", haproxy_port)));
    }
  }
}

TEST_CASE(
    "the PROXY header leaves in one segment with a client's first bytes when they are waiting, and at once "
    "for a server that speaks first",
    "[proxy_protocol]") {
  const bool client_first = GENERATE(true, false);
  proxied_workstation ws("backend", server_addresses, destination_addresses);
  // Filled in by the server's connection thread before it reports; read after wait_for_report().
  std::string seen;
  unsigned segments = 0;
  tcp_server server(at("10.77.0.10", 0), [&](int fd) {
    seen = read_through(fd, client_first ? "hello\n" : "\r\n");
    segments = data_segments_in(local_endpoint_of(fd).port(), peer_port_of(fd));
    if (!client_first) {
      send_all(fd, "220 ready\r\n");
      seen += read_through(fd, "QUIT\r\n");
    }
    send_all(fd, "221 bye\r\n");
    return received_digest{seen.size(), sha1_hex(seen), stream_end::eof};
  });
  detourd_process detourd(
      test_config(ws.port, "direct", forward_upstream(fmt::format("\"10.77.0.10:{}\"", server.port()), "v1")));
  const auto destination = at("10.77.0.30", free_port());

  std::string expected_header;
  socket_fd client;
  if (client_first) {
    INFO("client first: its bytes are in detourd's receive queue before detourd accepts");
    // Stopped, detourd cannot accept; the kernel completes the handshake and queues the bytes.
    detourd.send_signal(SIGSTOP);
    wait_until_stopped(detourd.pid());
    client = connect_from(at("10.77.0.2", 0), destination);
    send_all(client.get(), "hello\n");
    detourd.send_signal(SIGCONT);
    expected_header = fmt::format("PROXY TCP4 10.77.0.2 10.77.0.30 {} {}\r\n", local_endpoint_of(client.get()).port(),
                                  destination.port());
    server.wait_for_report();
    CHECK(seen == expected_header + "hello\n");
    CHECK(segments == 1);
  } else {
    INFO("server first: the client sends nothing until it has the greeting");
    client = connect_from(at("10.77.0.2", 0), destination);
    expected_header = fmt::format("PROXY TCP4 10.77.0.2 10.77.0.30 {} {}\r\n", local_endpoint_of(client.get()).port(),
                                  destination.port());
    const auto started = std::chrono::steady_clock::now();
    auto greeting = read_exactly(client.get(), 11, 5s);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(greeting.bytes == "220 ready\r\n");
    // Held back for the client's bytes, the header would never come: only a timeout would end it.
    CHECK(waited < 2s);
    send_all(client.get(), "QUIT\r\n");
    server.wait_for_report();
    CHECK(seen == expected_header + "QUIT\r\n");
    CHECK(segments == 1);
  }
  auto rest = read_until_eof(client.get());
  CHECK(rest.bytes == "221 bye\r\n");
}

TEST_CASE("a forward upstream relays the stream as is to the first of its servers that accepts", "[proxy_protocol]") {
  proxied_workstation ws("backend", server_addresses, destination_addresses);
  payload up(90, 200'000);
  payload down(91, 300'000);
  tcp_server server(at("10.77.0.10", 0), [&](int fd) {
    auto request = read_exactly(fd, static_cast<std::size_t>(up.size()));
    received_digest report{request.bytes.size(), sha1_hex(request.bytes), request.end};
    send_payload(fd, down);
    return report;
  });
  const auto down_port = free_port();  // nothing listens: refused at once
  detourd_process detourd(
      test_config(ws.port, "direct",
                  forward_upstream(fmt::format("\"10.77.0.10:{}\", \"10.77.0.10:{}\"", down_port, server.port()), "")));

  auto client = connect_from(at("10.77.0.2", 0), at("10.77.0.30", free_port()));
  send_payload(client.get(), up);
  auto got = hash_until_eof(client.get());
  auto seen = server.wait_for_report();
  CHECK(seen.received.size == up.size());
  CHECK(seen.received.sha1 == up.sha1());
  CHECK(got.end == stream_end::eof);
  CHECK(got.size == down.size());
  CHECK(got.sha1 == down.sha1());
  client.close();
  CHECK(
      detourd.wait_for_log(fmt::format("forward backend (10.77.0.10:{}) closed up=200000 down=300000", server.port())));
}

TEST_CASE("a forward upstream whose servers are all down resets the client and says why", "[proxy_protocol]") {
  proxied_workstation ws("backend", server_addresses, destination_addresses);
  const auto down_port = free_port();
  detourd_process detourd(
      test_config(ws.port, "direct", forward_upstream(fmt::format("\"10.77.0.10:{}\"", down_port), "v2")));
  auto got = read_after_connect(at("10.77.0.30", free_port()));
  CHECK(got.end == stream_end::reset);
  CHECK(got.bytes.empty());
  CHECK(detourd.wait_for_log(
      fmt::format("forward backend connect failed: 10.77.0.10:{}: Connection refused", down_port)));
}
