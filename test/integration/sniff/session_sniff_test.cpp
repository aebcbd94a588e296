// The server name read from real clients' first bytes as detourd relays them: curl over HTTP and
// HTTPS and openssl s_client against nginx, routes chosen by the name, a ClientHello trickled one
// byte per segment. And what the wait must never cost: a server-first protocol on another port is
// not delayed, a silent client is routed by address after the timeout, a stalled half ClientHello
// burns no CPU, and the relay after a sniff carries every byte.
#include "detour/admin/admin_client.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/payload.hpp"
#include "support/proc.hpp"
#include "support/process.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"
#include "support/temp_dir.hpp"
#include "unit/sniff/sniff_captures.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace detour::test;
namespace json = boost::json;

namespace {

using std::chrono::steady_clock;

constexpr const char* server_address = "10.77.0.2";

double ms(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Every TCP connection made here goes through detourd but those to loopback, where its admin
// endpoint listens. Servers listen on 10.77.0.2: `sniffed` is the one port listed in sniff.ports,
// `plain` one that is not.
struct sniff_netns {
  sniff_netns() {
    enter_new_netns();
    add_local_address(std::string(server_address) + "/32");
    port = free_port();
    admin_port = free_port();
    sniffed = free_port();
    plain = free_port();
    redirect_output(port, {.skip_destinations = {"127.0.0.1"}});
  }

  // detourd's config: debug logs (the sniff's verdicts), the admin endpoint, and `more`.
  std::string config(std::string_view more) const {
    return test_config(port, "direct",
                       fmt::format("log: {{level: debug}}\nadmin:\n  listen: 127.0.0.1:{}\n{}", admin_port, more));
  }

  double sniffs(std::string_view result) const {
    auto text = detour::admin::http_request(at("127.0.0.1", admin_port), boost::beast::http::verb::get, "/metrics");
    return metric_samples::parse(text.body())
        .value(sample_key("detour_sniff_total", {{"result", std::string(result)}}));
  }

  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
  std::uint16_t sniffed = 0;
  std::uint16_t plain = 0;
};

// openssl-s_client.bin with its server_name replaced by `name`.
std::string client_hello_for(std::string_view name) {
  auto hello = client_hello::parse(sniff_capture("openssl-s_client.bin"));
  auto* server_name = hello.extension(0);
  REQUIRE(server_name != nullptr);
  *server_name = server_name_data(name);
  return hello.records();
}

std::string http_request_for(std::string_view host) {
  return fmt::format("GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: detour-test\r\n\r\n", host);
}

// Sends `bytes`, half-closes and reads until the end: detourd's echo JSON, or what the echo server
// sent back.
received send_then_read(const endpoint& to, std::string_view bytes) {
  auto client = connect_to(to);
  send_all(client.get(), bytes);
  shutdown_write(client.get());
  return read_until_eof(client.get());
}

json::object echo_json_of(const received& got) {
  INFO(got.bytes);
  REQUIRE(got.end == stream_end::eof);
  return json::parse(got.bytes).as_object();
}

std::vector<json::object> access_log_lines(const std::filesystem::path& file) {
  std::vector<json::object> out;
  std::istringstream lines(file_contents(file));
  for (std::string line; std::getline(lines, line);) out.push_back(json::parse(line).as_object());
  return out;
}

// The access log line of the one connection to `port`.
json::object access_log_line_to(const std::filesystem::path& file, std::uint16_t port) {
  std::vector<json::object> found;
  for (auto& line : access_log_lines(file)) {
    if (line.at("original_dst").as_string().ends_with(fmt::format(":{}", port))) found.push_back(std::move(line));
  }
  INFO(file_contents(file));
  REQUIRE(found.size() == 1);
  return found.front();
}

// nginx serving one page over HTTP on `http_port` and over HTTPS (a self-signed certificate made
// here) on `https_port`, both on 10.77.0.2. One process without workers, ended by its pid.
struct web_server {
  web_server(const temp_dir& dir, std::uint16_t http_port, std::uint16_t https_port)
      : process({"/usr/sbin/nginx", "-p", dir.path().string(), "-c", config(dir, http_port, https_port).string(), "-g",
                 "daemon off;"},
                dir.path() / "nginx.out") {
    wait_until_listening(http_port);
    wait_until_listening(https_port);
  }

  static std::filesystem::path config(const temp_dir& dir, std::uint16_t http_port, std::uint16_t https_port) {
    auto made =
        run_to_completion({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=secure.example.com",
                           "-keyout", (dir.path() / "key.pem").string(), "-out", (dir.path() / "cert.pem").string()},
                          20s);
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
    std::filesystem::create_directories(dir.path() / "www");
    dir.write("www/index.html", "hello from nginx\n");
    return dir.write("nginx.conf", fmt::format(R"(
master_process off;
pid {0}/nginx.pid;
error_log {0}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {0};
  proxy_temp_path {0};
  fastcgi_temp_path {0};
  uwsgi_temp_path {0};
  scgi_temp_path {0};
  server {{
    listen {1}:{2};
    listen {1}:{3} ssl;
    ssl_certificate {0}/cert.pem;
    ssl_certificate_key {0}/key.pem;
    root {0}/www;
  }}
}}
)",
                                               dir.path().string(), server_address, http_port, https_port));
  }

  background_process process;
};

finished_run curl(const std::string& url, std::string_view name, std::uint16_t port) {
  return run_to_completion({"/usr/bin/curl", "-sS", "-k", "--max-time", "10", "--resolve",
                            fmt::format("{}:{}:{}", name, port, server_address), url},
                           20s);
}

// Greets each client as SMTP and SSH servers do, before the client says anything, then sends back
// what it reads until the client's EOF.
struct greeting_server : tcp_server {
  static constexpr std::string_view greeting = "220 greeting server ready\r\n";
  explicit greeting_server(const endpoint& listen_at)
      : tcp_server(listen_at, [](int fd) {
          send_all(fd, greeting);
          auto got = read_until_eof(fd);
          send_all(fd, got.bytes);
          ::shutdown(fd, SHUT_WR);
          return received_digest{got.bytes.size(), sha1_hex(got.bytes), got.end};
        }) {}
};

// Connects to `to` and times the greeting's arrival from the start of connect(); then checks the
// connection carries bytes both ways.
double greeting_after_ms(const endpoint& to) {
  const auto started = steady_clock::now();
  auto client = connect_to(to);
  auto greeted = read_exactly(client.get(), greeting_server::greeting.size());
  const auto took = steady_clock::now() - started;
  CHECK(greeted.bytes == greeting_server::greeting);
  send_all(client.get(), "EHLO client\r\n");
  shutdown_write(client.get());
  CHECK(read_until_eof(client.get()).bytes == "EHLO client\r\n");
  return ms(took);
}

}  // namespace

TEST_CASE("curl over HTTP and HTTPS is logged with the Host and the SNI it sent", "[sniff]") {
  sniff_netns ns;
  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  web_server nginx(dir, ns.plain, ns.sniffed);
  detourd_process detourd(ns.config(
      fmt::format("access_log: {{path: {}}}\nsniff: {{ports: [{}, {}]}}\n", log_file.string(), ns.plain, ns.sniffed)));

  auto plain = curl(fmt::format("http://www.example.com:{}/index.html", ns.plain), "www.example.com", ns.plain);
  INFO(plain.err);
  CHECK(plain.out == "hello from nginx\n");
  auto secure =
      curl(fmt::format("https://secure.example.com:{}/index.html", ns.sniffed), "secure.example.com", ns.sniffed);
  INFO(secure.err);
  CHECK(secure.out == "hello from nginx\n");
  CHECK(detourd.wait_for_log(fmt::format("-> {}:{}] host=www.example.com direct closed", server_address, ns.plain)));
  CHECK(
      detourd.wait_for_log(fmt::format("-> {}:{}] sni=secure.example.com direct closed", server_address, ns.sniffed)));
  CHECK(ns.sniffs("found") == 2);
  CHECK(detourd.stop() == 0);

  auto http_line = access_log_line_to(log_file, ns.plain);
  CHECK(http_line.at("server_name") == "www.example.com");
  CHECK(http_line.at("name_from") == "host");
  CHECK(http_line.at("result") == "relayed");
  auto tls_line = access_log_line_to(log_file, ns.sniffed);
  CHECK(tls_line.at("server_name") == "secure.example.com");
  CHECK(tls_line.at("name_from") == "sni");
  CHECK(tls_line.at("result") == "relayed");
}

TEST_CASE("openssl s_client's -servername is sniffed from its ClientHello", "[sniff]") {
  sniff_netns ns;
  temp_dir dir;
  web_server nginx(dir, ns.plain, ns.sniffed);
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}]}}\n", ns.sniffed)));

  // stdin is /dev/null: the handshake, then EOF, and s_client closes.
  auto ran = run_to_completion({"/usr/bin/openssl", "s_client", "-servername", "shell.example.net", "-connect",
                                fmt::format("{}:{}", server_address, ns.sniffed)},
                               20s);
  INFO(ran.out << ran.err);
  CHECK(ran.out.find("CONNECTED") != std::string::npos);
  CHECK(ran.out.find("CN = secure.example.com") != std::string::npos);
  CHECK(detourd.wait_for_log(fmt::format("-> {}:{}] sni=shell.example.net direct closed", server_address, ns.sniffed)));
  CHECK(ns.sniffs("found") == 1);
}

TEST_CASE("routes choose by the sniffed name: suffix, keyword and hosts_file, and no name matches none of them",
          "[sniff]") {
  sniff_netns ns;
  temp_dir dir;
  const auto hosts_file = dir.write("hosts.txt", "# names from a list\nlisted.test\n\nother.test\n");
  echo_server upstream(at(server_address, ns.sniffed));
  echo_server unsniffed(at(server_address, ns.plain));
  detourd_process detourd(ns.config(fmt::format(R"(sniff:
  ports: [{}]
routes:
  - name: example
    hosts: ["*.example.com"]
    action: {{echo: json}}
  - name: forbidden
    hosts: ["keyword:forbidden"]
    action: reject
  - name: listed
    hosts_file: {}
    action: {{echo: json}}
)",
                                                ns.sniffed, hosts_file.string())));
  const auto to = at(server_address, ns.sniffed);

  auto by_host = echo_json_of(send_then_read(to, http_request_for("www.Example.com:8080")));
  CHECK(by_host.at("route") == "example");
  CHECK(by_host.at("server_name") == "www.example.com");
  CHECK(by_host.at("name_from") == "host");
  auto by_sni = echo_json_of(send_then_read(to, client_hello_for("deep.api.example.com")));
  CHECK(by_sni.at("route") == "example");
  CHECK(by_sni.at("server_name") == "deep.api.example.com");
  CHECK(by_sni.at("name_from") == "sni");
  auto listed = echo_json_of(send_then_read(to, http_request_for("other.test")));
  CHECK(listed.at("route") == "listed");
  CHECK(listed.at("server_name") == "other.test");

  {
    auto client = connect_to(to);
    send_all(client.get(), client_hello_for("www.forbidden-site.org"));
    CHECK(read_until_eof(client.get()).end == stream_end::reset);
  }
  // Other names, and connections without one, take the default route: direct, to the echo server.
  for (const auto& request : {http_request_for("example.org"), client_hello_for("notexample.com"),
                              http_request_for("10.77.0.2"), std::string("hello, no protocol here\n")}) {
    auto got = send_then_read(to, request);
    CHECK(got.end == stream_end::eof);
    CHECK(got.bytes == request);
  }
  // Not a sniff port: no name, so a hosts route cannot match however the Host reads.
  auto unnamed = send_then_read(at(server_address, ns.plain), http_request_for("www.example.com"));
  CHECK(unnamed.bytes == http_request_for("www.example.com"));

  CHECK(ns.sniffs("found") == 6);
  CHECK(ns.sniffs("no_name") == 1);
  CHECK(ns.sniffs("not_recognized") == 1);
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("echoed") == 3);
  CHECK(detourd.stop_counter("rejected") == 1);
  CHECK(detourd.stop_counter("relayed") == 5);
}

TEST_CASE("a ClientHello sent one byte per segment is still sniffed", "[sniff]") {
  sniff_netns ns;
  detourd_process detourd(ns.config(fmt::format(R"(sniff: {{ports: [{}], timeout: 10s}}
routes:
  - {{hosts: [www.example.com], action: {{echo: json}}}}
)",
                                                ns.sniffed)));
  const auto hello = sniff_capture("openssl-s_client.bin");
  auto client = connect_to(at(server_address, ns.sniffed));
  const int on = 1;
  REQUIRE(::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0);
  for (char byte : hello) {
    send_all(client.get(), std::string_view(&byte, 1));
    std::this_thread::sleep_for(500us);
  }
  auto echoed = echo_json_of(read_until_eof(client.get()));
  CHECK(echoed.at("server_name") == "www.example.com");
  CHECK(echoed.at("name_from") == "sni");
  CHECK(ns.sniffs("found") == 1);
}

TEST_CASE("a server that speaks first on a port that is not sniffed greets its client without delay", "[sniff]") {
  sniff_netns ns;
  greeting_server greeter(at(server_address, ns.plain));
  // A long timeout on another port: a connection that waited for it could not be fast.
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}], timeout: 2s}}\n", ns.sniffed)));

  // The fastest of a few: a loaded machine can delay any one, a sniff wait would delay them all.
  std::vector<double> times;
  for (int attempt = 0; attempt < 5; ++attempt) times.push_back(greeting_after_ms(at(server_address, ns.plain)));
  WARN(fmt::format("greeting through detourd after {:.2f}ms at best, {:.2f}ms at worst",
                   *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end())));
  CHECK(*std::min_element(times.begin(), times.end()) < 100.0);
  CHECK(*std::max_element(times.begin(), times.end()) < 1500.0);
  for (auto outcome : {"found", "timeout", "closed", "not_recognized"}) CHECK(ns.sniffs(outcome) == 0);
}

TEST_CASE("a client silent on a sniff port is routed by address once the timeout has passed", "[sniff]") {
  sniff_netns ns;
  greeting_server greeter(at(server_address, ns.sniffed));
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}], timeout: 200ms}}\n", ns.sniffed)));

  const auto took = greeting_after_ms(at(server_address, ns.sniffed));
  CHECK(took >= 190.0);
  CHECK(took < 3000.0);
  CHECK(detourd.wait_for_log("no server name (timeout: no bytes from the client, 0 bytes"));
  CHECK(ns.sniffs("timeout") == 1);
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1);
}

TEST_CASE("after a sniff the relay carries both directions byte for byte", "[sniff]") {
  sniff_netns ns;
  const payload down(21, 3 * 1024 * 1024 + 17);
  sending_server server(at(server_address, ns.sniffed), down);
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}]}}\n", ns.sniffed)));

  const auto hello = sniff_capture("curl-https.bin");
  const payload up(22, 5 * 1024 * 1024 + 3);
  sha1_hasher expected_up;
  expected_up.add(hello);
  {
    std::string chunk(64 * 1024, '\0');
    for (std::uint64_t offset = 0; offset < up.size();) {
      auto n = up.fill(offset, chunk);
      expected_up.add(std::span<const char>(chunk.data(), n));
      offset += n;
    }
  }

  auto client = connect_to(at(server_address, ns.sniffed));
  send_all(client.get(), hello);
  // The server sends while it reads, so our unread download cannot stall the upload.
  send_payload(client.get(), up);
  shutdown_write(client.get());
  auto got = hash_until_eof(client.get());
  CHECK(got.end == stream_end::eof);
  CHECK(got.size == down.size());
  CHECK(got.sha1 == down.sha1());
  auto report = server.wait_for_report();
  CHECK(report.received.end == stream_end::eof);
  CHECK(report.received.size == expected_up.size());
  CHECK(report.received.sha1 == expected_up.hex());
  CHECK(detourd.wait_for_log("sni=curl.example.org direct closed"));
}

TEST_CASE("half a ClientHello and then silence costs no CPU while it waits out the timeout", "[sniff]") {
  sniff_netns ns;
  echo_server upstream(at(server_address, ns.sniffed));
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}], timeout: 300ms}}\n", ns.sniffed)));
  const auto half = sniff_capture("openssl-s_client.bin").substr(0, 160);

  const double before = cpu_seconds(detourd.pid());
  const auto started = steady_clock::now();
  auto client = connect_to(at(server_address, ns.sniffed));
  send_all(client.get(), half);
  // The echo server's copy comes back only once detourd has given up waiting and connected.
  auto echoed = read_exactly(client.get(), half.size());
  const auto took = steady_clock::now() - started;
  const double used = cpu_seconds(detourd.pid()) - before;
  CHECK(echoed.bytes == half);
  CHECK(ms(took) >= 290.0);
  WARN(fmt::format("detourd used {:.1f}ms of CPU while the half ClientHello waited {:.0f}ms", used * 1000, ms(took)));
  CHECK(used < 0.1);
  CHECK(detourd.wait_for_log("no server name (timeout tls: too few bytes, 160 bytes"));
  CHECK(ns.sniffs("timeout") == 1);
}

TEST_CASE("half a ClientHello and then EOF is routed at once, not after the timeout", "[sniff]") {
  sniff_netns ns;
  echo_server upstream(at(server_address, ns.sniffed));
  detourd_process detourd(ns.config(fmt::format("sniff: {{ports: [{}], timeout: 10s}}\n", ns.sniffed)));
  const auto half = sniff_capture("openssl-s_client.bin").substr(0, 160);

  const auto started = steady_clock::now();
  auto got = send_then_read(at(server_address, ns.sniffed), half);
  CHECK(got.bytes == half);
  CHECK(ms(steady_clock::now() - started) < 5000.0);
  CHECK(detourd.wait_for_log("no server name (closed tls: the client ended its stream before a verdict"));
  CHECK(ns.sniffs("closed") == 1);
}

TEST_CASE("a reload that turns sniffing off applies to the next connection", "[sniff]") {
  sniff_netns ns;
  detourd_process detourd(
      ns.config(fmt::format("sniff: {{ports: [{}]}}\nroutes:\n  - default: {{echo: json}}\n", ns.sniffed)));
  const auto to = at(server_address, ns.sniffed);
  CHECK(echo_json_of(send_then_read(to, http_request_for("before.test"))).at("server_name") == "before.test");

  std::ofstream(detourd.config_file()) << ns.config(
      fmt::format("sniff: {{enabled: false, ports: [{}]}}\nroutes:\n  - default: {{echo: json}}\n", ns.sniffed));
  detourd.send_signal(SIGHUP);
  REQUIRE(detourd.wait_for_log("reload (SIGHUP): "));
  CHECK(echo_json_of(send_then_read(to, http_request_for("after.test"))).at("server_name").is_null());
  CHECK(ns.sniffs("found") == 1);
}
