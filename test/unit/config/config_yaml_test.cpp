#include "detour/config/config_yaml.hpp"

#include "detour/config/config.hpp"

#include <catch2/catch.hpp>

namespace {

// Every section set, every list non-empty, nothing left at its default.
constexpr const char* everything = R"(
mode: echo
port: 8443
workers: 3
mark: 0x10
connect_timeout: 250ms
idle_timeout: 90s
drain_timeout: 2m
log: {level: debug}
intercept:
  enabled: true
  table: detour-test
  priority: -110
  exclude_self_uid: true
  self_test: false
  on_failure: closed
  outbound:
    enabled: false
    ports: ["80", "8000-8080"]
    exclude_ports: [22]
    destinations: [10.0.0.0/8, "fd00::/8"]
    exclude_destinations: [10.1.0.0/16, "::1/128"]
    uids: [1000]
    exclude_uids: [0, 1337]
    gids: [100]
    exclude_gids: [101]
    exclude_interfaces: [docker0]
  inbound:
    enabled: true
    port: 15006
    interfaces: [eth0, br-lan]
    sources: [192.168.0.0/16]
    exclude_sources: [192.168.9.0/24]
    ports: [443]
    exclude_ports: [8443]
    destinations: ["2001:db8::/32"]
    exclude_destinations: [203.0.113.7]
upstreams:
  corp:
    kind: socks5
    servers: ["10.1.0.5:1080", "[2001:db8::1]:1081"]
    username: alice
    password: "hunter2: the secret"
    connect_timeout: 5s
    resolve: remote
  office:
    kind: http
    address: 192.0.2.8:3128
  backend:
    kind: forward
    servers: ["10.1.0.7:8443", "[2001:db8::7]:8443"]
    proxy_protocol: v2
  plain:
    kind: forward
    address: 10.1.0.8:80
routes:
  - destinations: [10.0.0.0/8, "fd00::/8"]
    ports: [80, 443-444]
    sources: [172.17.0.0/16]
    action: {upstream: office}
  - ports: [25]
    action: reject
  - sources: ["::1"]
    action: {echo: json}
  - destinations: [198.51.100.0/24]
    action: echo
  - name: half
    destinations: [198.51.100.0/25]
    action: direct
  - ports: [8080]
    action: {direct: {proxy_protocol: v1}}
  - ports: [8443]
    action: {upstream: backend}
  - default: {upstream: corp}
access_log:
  path: /var/log/detour/access.log
admin:
  listen: "[::1]:15999"
  allow_remote: false
sniff:
  enabled: false
  ports: [443, "9000-9100"]
  timeout: 1500ms
user: nobody
group: root
)";

}  // namespace

TEST_CASE("the config YAML reads back into the same config, with the password redacted", "[config]") {
  auto original = detour::parse_config(everything, "all.yaml");
  auto text = detour::to_yaml(original);
  INFO(text);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("password: \"<redacted>\"") != std::string::npos);
  CHECK(text.find("username: alice") != std::string::npos);
  CHECK(text.find("resolve: remote") != std::string::npos);
  CHECK(text.find("proxy_protocol: v2") != std::string::npos);
  CHECK(text.find("{direct: {proxy_protocol: v1}}") != std::string::npos);
  CHECK(text.find("ports: [443, 9000-9100]") != std::string::npos);
  CHECK(text.find("timeout: 1500ms") != std::string::npos);

  auto expected = original;
  expected.upstreams.at(0).password = std::string(detour::redacted_password);
  CHECK(detour::parse_config(text, "to_yaml") == expected);
}

TEST_CASE("the config YAML of the defaults writes every key and reads back as the defaults", "[config]") {
  detour::config defaults;
  auto text = detour::to_yaml(defaults);
  INFO(text);
  CHECK(detour::parse_config(text, "to_yaml") == defaults);
  for (const char* key :
       {"mode: direct", "port: 15001", "workers: auto", "mark: 0x1d7", "connect_timeout: 10s", "idle_timeout: 1h",
        "drain_timeout: 5s", "level: info", "table: detour", "priority: -99", "on_failure: open",
        "exclude_interfaces: []", "upstreams: {}", "routes: []", "listen: 127.0.0.1:15000", "allow_remote: false",
        "ports: [80, 443, 8080, 8443]", "timeout: 300ms"}) {
    CHECK(text.find(key) != std::string::npos);
  }
  // Unset means "keep the starting user", which no value of user: says.
  CHECK(text.find("\nuser:") == std::string::npos);
  CHECK(text.find("\ngroup:") == std::string::npos);
}

TEST_CASE("the config YAML says off for an admin endpoint that is off, and keeps a remote one", "[config]") {
  detour::config c;
  c.admin.listen.reset();
  CHECK(detour::parse_config(detour::to_yaml(c), "to_yaml") == c);
  c.admin.listen = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("10.0.0.1"), 15000);
  c.admin.allow_remote = true;
  CHECK(detour::parse_config(detour::to_yaml(c), "to_yaml") == c);
}
