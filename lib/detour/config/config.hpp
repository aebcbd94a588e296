#pragma once
#include "detour/error.hpp"
#include "detour/net/cidr.hpp"
#include "detour/net/host_pattern.hpp"
#include "detour/net/port_range.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour {

// What a connection gets when nothing more specific applies.
enum class mode { direct, echo, reject };

std::string_view to_string(mode m);
std::optional<mode> parse_mode(std::string_view text);

// Connections made on this host (nat output hook).
struct outbound_capture {
  bool enabled = true;
  std::vector<net::port_range> ports;  // empty: every port
  std::vector<net::port_range> exclude_ports;
  std::vector<net::cidr> destinations;  // empty: every destination
  std::vector<net::cidr> exclude_destinations;
  std::vector<std::uint32_t> uids;  // empty: every user
  std::vector<std::uint32_t> exclude_uids;
  std::vector<std::uint32_t> gids;
  std::vector<std::uint32_t> exclude_gids;
  std::vector<std::string> exclude_interfaces;
  friend bool operator==(const outbound_capture&, const outbound_capture&) = default;
};

// Connections arriving from other hosts, containers or namespaces (nat prerouting hook).
struct inbound_capture {
  bool enabled = false;
  // The listener prerouting captures are redirected to, as istio's 15006 beside its 15001; 0: the
  // same as config::port, and the hook then tells the directions apart.
  std::uint16_t port = 0;
  std::vector<std::string> interfaces;  // empty: every interface
  std::vector<net::cidr> sources;
  std::vector<net::cidr> exclude_sources;
  std::vector<net::port_range> ports;
  std::vector<net::port_range> exclude_ports;
  std::vector<net::cidr> destinations;
  std::vector<net::cidr> exclude_destinations;
  friend bool operator==(const inbound_capture&, const inbound_capture&) = default;
};

// What happens to the traffic the capture covers once detourd is gone without stopping (a crash,
// kill -9): open lets it go directly to its destinations, closed has the guard table reset it.
enum class failure_policy { open, closed };

std::string_view to_string(failure_policy p);

struct intercept_config {
  bool enabled = true;
  std::string table = "detour";
  // -99: just after the -100 of iptables/docker/podman nat chains, so published container ports keep
  // working and the order does not flip when those tools restart (see config/detour.yaml).
  int priority = -99;
  bool exclude_self_uid = false;
  // Before READY, prove that a connection through our own nat output hook reaches detourd with a
  // readable original destination (rules/capture_self_test); false skips the check.
  bool self_test = true;
  failure_policy on_failure = failure_policy::open;
  outbound_capture outbound;
  inbound_capture inbound;
  friend bool operator==(const intercept_config&, const intercept_config&) = default;
};

// Which way a captured connection goes: made on this host (nat output) or arriving from another
// host, container or namespace (nat prerouting).
enum class traffic_direction : std::uint8_t { outbound, inbound };

std::string_view to_string(traffic_direction d);

// forward: no proxy handshake; the connection goes to the upstream's server and the stream is
// relayed as is, after a PROXY protocol header when one is configured (the only place the original
// destination then travels).
enum class upstream_kind { socks5, http, forward };

std::string_view to_string(upstream_kind k);

// The PROXY protocol header (HAProxy's specification) sent ahead of the client's bytes: none, the
// text line of version 1, or the binary header of version 2.
enum class proxy_protocol_version { none, v1, v2 };

std::string_view to_string(proxy_protocol_version v);  // "none", "v1", "v2"

// What an upstream is asked to connect to: local, the original destination's address; remote, the
// sniffed name when there is one (SOCKS5 ATYP 3, HTTP CONNECT host:port), so the proxy resolves it.
enum class name_resolution { local, remote };

std::string_view to_string(name_resolution r);  // "local", "remote"

// A proxy server detourd connects through (section `upstreams`). Its servers are tried in order:
// the next one only when the previous cannot be reached or drops the connection before answering.
// A definite answer (a SOCKS reply code, an HTTP status) is final, since another server of the same
// upstream would reach the same destination.
struct upstream_config {
  std::string name;
  upstream_kind kind = upstream_kind::socks5;
  std::vector<boost::asio::ip::tcp::endpoint> servers;
  std::string username;  // empty: no authentication
  std::string password;  // from password, password_file or password_env; never logged
  // Bounds everything from the first TCP connect to the end of the handshake; a server that does
  // not answer gets only its share of it, so it cannot starve the servers after it.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  name_resolution resolve = name_resolution::local;                      // socks5 and http only
  proxy_protocol_version proxy_protocol = proxy_protocol_version::none;  // forward only
  friend bool operator==(const upstream_config&, const upstream_config&) = default;
};

enum class route_kind { direct, upstream, echo, echo_json, reject };

std::string_view to_string(route_kind k);

struct route_action {
  route_kind kind = route_kind::direct;
  std::size_t upstream = 0;  // index into config::upstreams, for route_kind::upstream only
  // route_kind::direct only: the header sent to the original destination ahead of the client's bytes.
  proxy_protocol_version proxy_protocol = proxy_protocol_version::none;
  friend bool operator==(const route_action&, const route_action&) = default;
};

// A list a route reads from a file of its own (`hosts_file`, `destinations_file`): the path, which
// to_yaml writes back rather than the entries, and what the file held when the config was read.
template <typename T>
struct list_file {
  std::string path;  // absolute; empty: no file
  std::vector<T> entries;
  friend bool operator==(const list_file&, const list_file&) = default;
};

// One entry of `routes`. Each condition that is present must match (a list matches when any of its
// elements does; a list and its file are one list); an absent one matches everything. Host patterns
// match the server name sniffed from the connection, so a rule with hosts never matches one whose
// name was not sniffed. The first matching rule decides.
// (Every member has an initializer, so that a rule can be written with designated initializers
// naming only the conditions it has.)
struct route_rule {
  std::vector<net::cidr> destinations{};
  std::vector<net::port_range> ports{};
  std::vector<net::cidr> sources{};
  route_action action{};
  // In logs, metrics labels and the admin API: `name:` from the file, else "route N" (1-based).
  std::string name{};
  std::vector<net::host_pattern> hosts{};
  list_file<net::host_pattern> hosts_file{};
  list_file<net::cidr> destinations_file{};
  std::optional<traffic_direction> direction{};  // nullopt: both
  friend bool operator==(const route_rule&, const route_rule&) = default;
};

// The admin HTTP endpoint (section `admin`): metrics, health, live connections, the config.
struct admin_config {
  // Where it listens; nullopt: `off`. Loopback unless allow_remote, since it can reset connections
  // and show the config.
  std::optional<boost::asio::ip::tcp::endpoint> listen{
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address_v4("127.0.0.1"), 15000)};
  bool allow_remote = false;
  friend bool operator==(const admin_config&, const admin_config&) = default;
};

// Where the access log goes (section `access_log`): one JSON line per connection.
struct access_log_config {
  enum class target { off, standard_output, file };
  target to = target::off;
  std::string path;  // the file, for target::file
  friend bool operator==(const access_log_config&, const access_log_config&) = default;
};

// The user and group detourd runs as once its rules are installed (top-level `user:` and
// `group:`), resolved when the config is read, so `detourd check` already catches a name this host
// does not know.
struct run_as_config {
  std::string user;  // the passwd name, or the number when the uid has no entry
  std::uint32_t uid = 0;
  std::string group;  // likewise for the group
  std::uint32_t gid = 0;
  friend bool operator==(const run_as_config&, const run_as_config&) = default;
};

// Admission limits (section `limits`): a connection over one is reset at once, before routing.
struct limits_config {
  // Open connections in the whole process; nullopt: `auto`, derived from RLIMIT_NOFILE at start.
  std::optional<std::uint64_t> max_connections;
  // Open connections from one client address; nullopt: `off`.
  std::optional<std::uint64_t> max_connections_per_source;
  // IPv6 clients count as one source per prefix of this length, since one host commonly holds a
  // whole /64 and can pick a new address for every connection.
  unsigned ipv6_source_prefix = 64;
  friend bool operator==(const limits_config&, const limits_config&) = default;
};

// Reading the server name a client asks for from its first bytes (section `sniff`): the TLS
// ClientHello's server_name or the HTTP/1 Host header, for host routes, the logs and the PROXY
// header. Only connections to one of `ports` (their original destination's) wait for those bytes,
// and for at most `timeout`: a server-first protocol (SMTP, SSH) on another port is never delayed.
struct sniff_config {
  bool enabled = true;
  std::vector<net::port_range> ports{{80, 80}, {443, 443}, {8080, 8080}, {8443, 8443}};
  // After it, a client that has sent no usable first bytes is routed by its address alone.
  std::chrono::milliseconds timeout{300};

  // Whether a connection to `port` waits for its server name.
  bool covers(std::uint16_t port) const {
    if (!enabled) return false;
    for (const auto& r : ports) {
      if (r.contains(port)) return true;
    }
    return false;
  }
  friend bool operator==(const sniff_config&, const sniff_config&) = default;
};

struct config {
  detour::mode mode = mode::direct;
  std::uint16_t port = 15001;
  unsigned workers = 0;  // 0: one per CPU
  std::uint32_t mark = 0x1d7;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::hours(1)};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};
  std::string log_level = "info";
  access_log_config access_log;
  intercept_config intercept;
  std::vector<upstream_config> upstreams;  // in file order; route_action::upstream indexes it
  std::vector<route_rule> routes;
  std::optional<route_action> default_route;  // the `default:` entry of routes; absent: `mode`
  admin_config admin;
  limits_config limits;
  sniff_config sniff;
  std::optional<run_as_config> run_as;  // nullopt: keep the user detourd was started as

  // What a connection that matches no route gets.
  route_action default_action() const;
  // Where prerouting captures go: intercept.inbound.port, or `port` when that is 0.
  std::uint16_t inbound_port() const { return intercept.inbound.port != 0 ? intercept.inbound.port : port; }
  // Whole-config equality: to_yaml's output must read back into the config it came from.
  friend bool operator==(const config&, const config&) = default;
};

// A config that does not validate. what() is "FILE:LINE:COLUMN: KEY: reason" whenever the problem
// has a place in the file.
class config_error : public detour::error {
 public:
  using detour::error::error;
};

// Parses YAML text; `source_name` is what error messages call the file.
config parse_config(std::string_view yaml_text, std::string_view source_name);
config load_config_file(const std::filesystem::path& path);

// The documented config/detour.yaml, compiled in: what `detourd run` uses without -c.
std::string_view embedded_default_config();
config default_config();

}  // namespace detour
