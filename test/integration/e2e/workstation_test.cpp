// End to end, as a user runs it: detourd installs and owns its own capture rules in a namespace
// standing in for a workstation, and real programs (curl, nginx, microsocks, tinyproxy) do the rest.
// Nothing here hand-writes a redirect rule.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/proc.hpp"
#include "support/process.hpp"
#include "support/upstream_proxies.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// nginx on `port` of every local address, serving one small file. One process without workers
// (master_process off): the test ends it by its pid, and a worker would outlive a killed master.
struct nginx_server {
  nginx_server(const temp_dir& dir, std::uint16_t port)
      : process({"/usr/sbin/nginx", "-p", dir.path().string(), "-c", config(dir, port).string(), "-g", "daemon off;"},
                dir.path() / "nginx.out") {
    wait_until_listening(port);
  }

  static std::filesystem::path config(const temp_dir& dir, std::uint16_t port) {
    std::filesystem::create_directories(dir.path() / "www");
    dir.write("www/hello.txt", "hello from nginx\n");
    return dir.write("nginx.conf", fmt::format(R"(
master_process off;
pid {0}/nginx.pid;
error_log {0}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log {0}/nginx-access.log;
  client_body_temp_path {0};
  proxy_temp_path {0};
  fastcgi_temp_path {0};
  uwsgi_temp_path {0};
  scgi_temp_path {0};
  server {{
    listen {1};
    root {0}/www;
  }}
}}
)",
                                               dir.path().string(), port));
  }

  background_process process;
};

struct curl_result {
  int exit_code;
  std::string body;  // with its error message, if any
};

// curl as a user program would run it: it knows nothing of the proxy.
curl_result curl(const std::string& url) {
  auto run = run_to_completion({"/usr/bin/curl", "--silent", "--show-error", "--max-time", "10", url}, 20s);
  return {run.exit_code, run.out + run.err};
}

}  // namespace

TEST_CASE("a workstation's curl reaches nginx directly, through SOCKS5 and through HTTP CONNECT, per route", "[e2e]") {
  enter_new_netns();
  // Four web server addresses, one per route, all served by the same nginx.
  for (auto address : {"10.77.0.2/32", "10.77.0.3/32", "10.77.0.4/32", "10.77.0.5/32"}) add_local_address(address);
  temp_dir dir;
  auto web_port = free_port();
  nginx_server nginx(dir, web_port);
  auto socks_port = free_port();
  auto http_port = free_port();
  microsocks socks(dir, at("127.0.0.1", socks_port));
  tinyproxy web(dir, at("127.0.0.1", http_port));
  auto port = free_port();

  // The proxies' own connections to the web servers must not be captured again: they run as
  // their own users, which the capture excludes, as a user of detour would configure it.
  detourd_process detourd(fmt::format(R"(
port: {}
workers: 1
upstreams:
  socks: {{kind: socks5, servers: ["127.0.0.1:{}"]}}
  web: {{kind: http, servers: ["127.0.0.1:{}"]}}
routes:
  - destinations: [10.77.0.2/32]
    action: direct
  - destinations: [10.77.0.3/32]
    action: {{upstream: socks}}
  - destinations: [10.77.0.4/32]
    action: {{upstream: web}}
  - destinations: [10.77.0.5/32]
    action: reject
  - default: reject
intercept:
  outbound:
    exclude_uids: [{}, {}]
)",
                                      port, socks_port, http_port, nobody_uid, tinyproxy_uid()));
  REQUIRE(detourd.wait_for_log("rules: installed table inet detour"));

  SECTION("a route sends one prefix direct; the log shows the original destination") {
    auto got = curl(fmt::format("http://10.77.0.2:{}/hello.txt", web_port));
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.0.2:{}] direct closed", web_port)));
  }
  SECTION("a route sends one prefix through the SOCKS5 server, which logs the connection") {
    auto got = curl(fmt::format("http://10.77.0.3:{}/hello.txt", web_port));
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(socks.process().wait_for_output("10.77.0.3"));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.0.3:{}] socks5", web_port)));
  }
  SECTION("a route sends one prefix through tinyproxy, which logs the CONNECT") {
    auto got = curl(fmt::format("http://10.77.0.4:{}/hello.txt", web_port));
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(web.process().wait_for_output("10.77.0.4"));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.0.4:{}] http", web_port)));
  }
  SECTION("a reject route resets curl's connection") {
    auto got = curl(fmt::format("http://10.77.0.5:{}/hello.txt", web_port));
    CAPTURE(got.body);
    // detourd resets as soon as it has accepted; curl sees it while connecting (exit 7, "Couldn't
    // connect") or at its first read (exit 56, "Connection reset by peer"), never a reply.
    CHECK((got.exit_code == 7 || got.exit_code == 56));
    CHECK(got.body.find("hello") == std::string::npos);
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.0.5:{}] rejected", web_port)));
  }
  CHECK(detourd.stop() == 0);
  CHECK(sh("nft list tables").empty());
}
