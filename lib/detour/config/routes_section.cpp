#include "detour/config/routes_section.hpp"

#include "detour/config/config_limits.hpp"
#include "detour/config/list_file_reader.hpp"
#include "detour/config/upstreams_section.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

namespace detour::config_detail {
namespace {

constexpr std::string_view expected_action =
    "expected direct, echo, reject, {upstream: NAME}, {echo: json} or {direct: {proxy_protocol: v1|v2}}";

// `{direct: {proxy_protocol: v1}}`: a direct connection that tells the destination who the client
// was. An empty mapping is plain direct.
route_action read_direct(std::string_view source, const YAML::Node& node, const std::string& key) {
  route_action out{route_kind::direct, 0};
  if (!node.IsMap()) fail(source, node.Mark(), key, "expected {proxy_protocol: v1|v2}");
  mapping m(source, node, key);
  if (auto v = m.take("proxy_protocol")) {
    out.proxy_protocol = read_proxy_protocol(source, *v, m.key_path("proxy_protocol"));
  }
  m.finish();
  return out;
}

route_action read_action(std::string_view source, const YAML::Node& node, const std::string& key,
                         const std::vector<upstream_config>& upstreams) {
  if (node.IsScalar()) {
    const auto& text = node.Scalar();
    if (text == "direct") return {route_kind::direct, 0};
    if (text == "echo") return {route_kind::echo, 0};
    if (text == "reject") return {route_kind::reject, 0};
    fail(source, node.Mark(), key, fmt::format("{}, got \"{}\"", expected_action, text));
  }
  if (!node.IsMap() || node.size() != 1) fail(source, node.Mark(), key, expected_action);
  mapping m(source, node, key);
  if (auto v = m.take("upstream")) {
    auto name = read_string(source, *v, m.key_path("upstream"));
    for (std::size_t i = 0; i < upstreams.size(); ++i) {
      if (upstreams[i].name == name) return {route_kind::upstream, i};
    }
    std::vector<std::string> names;
    names.reserve(upstreams.size());
    for (const auto& u : upstreams) names.push_back(u.name);
    fail(source, v->Mark(), m.key_path("upstream"),
         fmt::format("unknown upstream \"{}\" ({})", name,
                     names.empty() ? std::string("no upstreams are defined")
                                   : fmt::format("defined: {}", fmt::join(names, ", "))));
  }
  if (auto v = m.take("echo")) {
    auto format = read_string(source, *v, m.key_path("echo"));
    if (format == "json") return {route_kind::echo_json, 0};
    if (format == "line") return {route_kind::echo, 0};
    fail(source, v->Mark(), m.key_path("echo"), fmt::format("expected line or json, got \"{}\"", format));
  }
  if (auto v = m.take("direct")) return read_direct(source, *v, m.key_path("direct"));
  m.finish();
  fail(source, node.Mark(), key, expected_action);
}

std::vector<net::host_pattern> read_host_patterns(std::string_view source, const YAML::Node& node,
                                                  std::string_view key) {
  return read_list<net::host_pattern>(
      source, node, key,
      [&](const YAML::Node& item, const std::string& path) {
        auto text = read_string(source, item, path);
        std::string why;
        auto pattern = net::parse_host_pattern(text, &why);
        if (!pattern) fail(source, item.Mark(), path, why);
        return *pattern;
      },
      config_limits::address_entries);
}

// The file's path stays in the config (to_yaml writes it back); its entries are read now, so a bad
// line is refused by `detourd check` and by a reload, which then keeps the running config.
template <typename T>
list_file<T> read_route_list_file(std::string_view source, const YAML::Node& node, const std::string& key,
                                  std::string_view entry_name,
                                  const std::function<std::optional<T>(std::string_view, std::string*)>& parse) {
  list_file<T> out;
  out.path = read_string(source, node, key);
  if (out.path.empty() || out.path.front() != '/') {
    // detourd usually runs from / under systemd; a relative path would silently mean something else.
    fail(source, node.Mark(), key, fmt::format("\"{}\" is not an absolute path", out.path));
  }
  check_length(source, node.Mark(), key, out.path, config_limits::path_bytes);
  try {
    out.entries = read_list_file<T>(out.path, entry_name, parse);
  } catch (const config_error& e) {
    fail(source, node.Mark(), key, e.what());
  }
  return out;
}

std::optional<net::cidr> parse_cidr_line(std::string_view text, std::string* why) {
  std::string reason;
  auto c = net::parse_cidr(text, &reason);
  if (!c && why) *why = fmt::format("\"{}\": {}", text.substr(0, 80), reason);
  return c;
}

traffic_direction read_direction(std::string_view source, const YAML::Node& node, const std::string& key) {
  auto text = read_string(source, node, key);
  if (text == "outbound") return traffic_direction::outbound;
  if (text == "inbound") return traffic_direction::inbound;
  fail(source, node.Mark(), key, fmt::format("expected inbound or outbound, got \"{}\"", text));
}

// Names are label values and the key of ?route= filters: short, printable, one line.
void check_route_name(std::string_view source, const YAML::Node& node, const std::string& key,
                      const std::string& name) {
  if (name.empty() || name.size() > config_limits::name_bytes) {
    fail(source, node.Mark(), key, fmt::format("must be 1 to {} characters", config_limits::name_bytes));
  }
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      fail(source, node.Mark(), key, fmt::format("\"{}\" has a control character, a quote or a backslash", name));
    }
  }
  if (name == "default") fail(source, node.Mark(), key, "\"default\" is the name of the default: entry");
}

// Unnamed rules are "route N" (1-based, as a reader counts them); every name must be unique, the
// generated ones included, or metrics and filters would merge two rules.
void name_routes(std::string_view source, std::vector<route_rule>& rules, const std::vector<YAML::Mark>& marks) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].name.empty()) rules[i].name = fmt::format("route {}", i + 1);
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (rules[j].name == rules[i].name) {
        fail(source, marks[i], fmt::format("routes[{}].name", i),
             fmt::format("duplicate route name \"{}\" (routes[{}] at line {} has it too)", rules[i].name, j,
                         marks[j].line + 1));
      }
    }
  }
}

}  // namespace

void read_routes(std::string_view source, const YAML::Node& node, const std::vector<upstream_config>& upstreams,
                 std::vector<route_rule>& out, std::optional<route_action>& default_route) {
  out.clear();
  default_route.reset();
  if (node.IsNull()) return;
  if (!node.IsSequence()) fail(source, node.Mark(), "routes", "expected a list of rules ending with default: ACTION");
  // The router tries rules in order for every new connection.
  check_entries(source, node, "routes", config_limits::routes);
  std::size_t index = 0;
  std::vector<YAML::Mark> marks;  // where each rule starts, for a duplicate name
  for (const auto& item : node) {
    auto key = fmt::format("routes[{}]", index++);
    if (default_route) fail(source, item.Mark(), key, "comes after default:, which must be the last entry");
    if (!item.IsMap())
      fail(source, item.Mark(), key,
           "expected a rule (conditions such as destinations, ports or hosts, and an action)");
    mapping m(source, item, key);
    if (auto v = m.take("default")) {
      default_route = read_action(source, *v, m.key_path("default"), upstreams);
      m.finish();
      continue;
    }
    route_rule rule;
    bool has_match = false;
    // A list written out empty could mean "nothing" or "anything"; refuse it rather than guess.
    auto read_match = [&]<typename T>(std::string_view name, std::vector<T>& field, auto reader,
                                      std::string_view every) {
      auto v = m.take(name);
      if (!v) return;
      field = reader(source, *v, m.key_path(name));
      if (field.empty())
        fail(source, v->Mark(), m.key_path(name), fmt::format("is empty; leave it out to match {}", every));
      has_match = true;
    };
    auto read_file = [&]<typename T>(std::string_view name, list_file<T>& field, std::string_view entry_name,
                                     std::optional<T> (*parse)(std::string_view, std::string*)) {
      auto v = m.take(name);
      if (!v) return;
      field = read_route_list_file<T>(source, *v, m.key_path(name), entry_name, parse);
      has_match = true;
    };
    read_match("destinations", rule.destinations, read_cidrs, "every address");
    read_file("destinations_file", rule.destinations_file, "address prefixes", parse_cidr_line);
    read_match("ports", rule.ports, read_port_ranges, "every port");
    read_match("sources", rule.sources, read_cidrs, "every address");
    read_match("hosts", rule.hosts, read_host_patterns, "every connection, with a server name or without");
    read_file("hosts_file", rule.hosts_file, "host patterns", net::parse_host_pattern);
    if (auto v = m.take("direction")) {
      rule.direction = read_direction(source, *v, m.key_path("direction"));
      has_match = true;
    }
    if (auto v = m.take("name")) {
      rule.name = read_string(source, *v, m.key_path("name"));
      check_route_name(source, *v, m.key_path("name"), rule.name);
    }
    auto action = m.take("action");
    m.finish();
    if (!action) fail(source, item.Mark(), key, "needs action");
    rule.action = read_action(source, *action, m.key_path("action"), upstreams);
    if (!has_match) {
      fail(source, item.Mark(), key,
           "needs at least one of destinations, destinations_file, ports, sources, hosts, hosts_file, direction (a "
           "catch-all is default:)");
    }
    out.push_back(std::move(rule));
    marks.push_back(item.Mark());
  }
  name_routes(source, out, marks);
}

}  // namespace detour::config_detail
