// End to end, as a user runs it: detourd installs and owns its own capture rules in a namespace
// standing in for a workstation, and real programs (curl, nginx, microsocks, tinyproxy) do the rest.
// Nothing here hand-writes a redirect rule.
#include "support/upstream_proxies.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>

using namespace detour::test;

namespace {

// nginx on port 80 of every local address, serving one small file. One process without workers
// (master_process off): the test ends it by its pid, and a worker would outlive a killed master.
struct nginx_server {
  explicit nginx_server(const temp_dir& dir)
      : process({"/usr/sbin/nginx", "-p", dir.path().string(), "-c", config(dir).string(), "-g", "daemon off;"},
                dir.path() / "nginx.out") {
    wait_until_listening(80);
  }

  static std::filesystem::path config(const temp_dir& dir) {
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
    listen 80;
    root {0}/www;
  }}
}}
)",
                                                    dir.path().string()));
  }

  background_process process;
};

struct curl_result {
  int exit_code;
  std::string body;
};

// curl as a user program would run it: it knows nothing of the proxy.
curl_result curl(std::string_view url) {
  auto command = fmt::format("curl --silent --show-error --max-time 10 {} 2>&1", url);
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (auto n = std::fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("a workstation's curl reaches nginx directly, through SOCKS5 and through HTTP CONNECT, per route",
          "[e2e]") {
  enter_new_netns();
  // Four web server addresses, one per route, all served by the same nginx.
  for (auto address : {"10.77.0.2/32", "10.77.0.3/32", "10.77.0.4/32", "10.77.0.5/32"}) add_local_address(address);
  temp_dir dir;
  nginx_server nginx(dir);
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
    auto got = curl("http://10.77.0.2/hello.txt");
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(detourd.wait_for_log("-> 10.77.0.2:80] direct closed"));
  }
  SECTION("a route sends one prefix through the SOCKS5 server, which logs the connection") {
    auto got = curl("http://10.77.0.3/hello.txt");
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(socks.process().wait_for_output("10.77.0.3"));
    CHECK(detourd.wait_for_log("-> 10.77.0.3:80] socks5"));
  }
  SECTION("a route sends one prefix through tinyproxy, which logs the CONNECT") {
    auto got = curl("http://10.77.0.4/hello.txt");
    CHECK(got.exit_code == 0);
    CHECK(got.body == "hello from nginx\n");
    CHECK(web.process().wait_for_output("10.77.0.4"));
    CHECK(detourd.wait_for_log("-> 10.77.0.4:80] http"));
  }
  SECTION("a reject route resets curl's connection") {
    auto got = curl("http://10.77.0.5/hello.txt");
    CAPTURE(got.body);
    // detourd resets as soon as it has accepted; curl sees it while connecting (exit 7, "Couldn't
    // connect") or at its first read (exit 56, "Connection reset by peer"), never a reply.
    CHECK((got.exit_code == 7 || got.exit_code == 56));
    CHECK(got.body.find("hello") == std::string::npos);
    CHECK(detourd.wait_for_log("-> 10.77.0.5:80] rejected"));
  }
  CHECK(detourd.stop() == 0);
  CHECK(sh("nft list tables").empty());
}
