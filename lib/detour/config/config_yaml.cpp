#include "detour/config/config_yaml.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace detour {
namespace {

// The largest unit that divides the value exactly, so 3600000ms reads back as the 1h it came from.
std::string duration_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

template <typename T>
void emit_list(YAML::Emitter& out, std::string_view key, const std::vector<T>& items) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& item : items) {
    if constexpr (std::is_same_v<T, std::string> || std::is_integral_v<T>) {
      out << item;
    } else {
      out << item.to_string();
    }
  }
  out << YAML::EndSeq;
}

// In the order the reader in routes_section takes them; an empty list is left out, as the reader
// refuses one.
template <typename T>
void emit_match(YAML::Emitter& out, std::string_view key, const std::vector<T>& items) {
  if (!items.empty()) emit_list(out, key, items);
}

// The path only: reading the config back reads the file again, as a reload does.
template <typename T>
void emit_file(YAML::Emitter& out, std::string_view key, const list_file<T>& file) {
  if (!file.path.empty()) out << YAML::Key << std::string(key) << YAML::Value << file.path;
}

void emit_destination_filters(YAML::Emitter& out, const auto& capture) {
  emit_list(out, "ports", capture.ports);
  emit_list(out, "exclude_ports", capture.exclude_ports);
  emit_list(out, "destinations", capture.destinations);
  emit_list(out, "exclude_destinations", capture.exclude_destinations);
}

void emit_intercept(YAML::Emitter& out, const intercept_config& in) {
  out << YAML::Key << "intercept" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << in.enabled;
  out << YAML::Key << "table" << YAML::Value << in.table;
  out << YAML::Key << "priority" << YAML::Value << in.priority;
  out << YAML::Key << "exclude_self_uid" << YAML::Value << in.exclude_self_uid;
  out << YAML::Key << "self_test" << YAML::Value << in.self_test;
  out << YAML::Key << "on_failure" << YAML::Value << std::string(to_string(in.on_failure));

  const auto& o = in.outbound;
  out << YAML::Key << "outbound" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << o.enabled;
  emit_destination_filters(out, o);
  emit_list(out, "uids", o.uids);
  emit_list(out, "exclude_uids", o.exclude_uids);
  emit_list(out, "gids", o.gids);
  emit_list(out, "exclude_gids", o.exclude_gids);
  emit_list(out, "exclude_interfaces", o.exclude_interfaces);
  out << YAML::EndMap;

  const auto& i = in.inbound;
  out << YAML::Key << "inbound" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << i.enabled;
  if (i.port != 0) out << YAML::Key << "port" << YAML::Value << i.port;
  emit_list(out, "interfaces", i.interfaces);
  emit_list(out, "sources", i.sources);
  emit_list(out, "exclude_sources", i.exclude_sources);
  emit_destination_filters(out, i);
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void emit_upstreams(YAML::Emitter& out, const std::vector<upstream_config>& upstreams) {
  out << YAML::Key << "upstreams" << YAML::Value;
  if (upstreams.empty()) out << YAML::Flow;
  out << YAML::BeginMap;
  for (const auto& u : upstreams) {
    out << YAML::Key << u.name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "kind" << YAML::Value << std::string(to_string(u.kind));
    out << YAML::Key << "servers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& server : u.servers) out << net::to_string(server);
    out << YAML::EndSeq;
    if (!u.username.empty()) out << YAML::Key << "username" << YAML::Value << u.username;
    if (!u.password.empty()) {
      out << YAML::Key << "password" << YAML::Value << YAML::DoubleQuoted << std::string(redacted_password);
    }
    out << YAML::Key << "connect_timeout" << YAML::Value << duration_text(u.connect_timeout);
    // The reader refuses each key on the kinds it does not apply to.
    if (u.kind == upstream_kind::forward) {
      if (u.proxy_protocol != proxy_protocol_version::none) {
        out << YAML::Key << "proxy_protocol" << YAML::Value << std::string(to_string(u.proxy_protocol));
      }
    } else {
      out << YAML::Key << "resolve" << YAML::Value << std::string(to_string(u.resolve));
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void emit_action(YAML::Emitter& out, const route_action& action, const std::vector<upstream_config>& upstreams) {
  switch (action.kind) {
    case route_kind::upstream:
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "upstream" << YAML::Value
          << upstreams.at(action.upstream).name << YAML::EndMap;
      return;
    case route_kind::echo_json:
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "echo" << YAML::Value << "json" << YAML::EndMap;
      return;
    case route_kind::direct:
      if (action.proxy_protocol != proxy_protocol_version::none) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "direct" << YAML::Value << YAML::BeginMap << YAML::Key
            << "proxy_protocol" << YAML::Value << std::string(to_string(action.proxy_protocol)) << YAML::EndMap
            << YAML::EndMap;
        return;
      }
      [[fallthrough]];
    case route_kind::echo:
    case route_kind::reject:
      out << std::string(to_string(action.kind));
      return;
  }
}

void emit_routes(YAML::Emitter& out, const config& c) {
  out << YAML::Key << "routes" << YAML::Value;
  if (c.routes.empty() && !c.default_route) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const auto& rule : c.routes) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << rule.name;
    emit_match(out, "destinations", rule.destinations);
    emit_file(out, "destinations_file", rule.destinations_file);
    emit_match(out, "ports", rule.ports);
    emit_match(out, "sources", rule.sources);
    emit_match(out, "hosts", rule.hosts);
    emit_file(out, "hosts_file", rule.hosts_file);
    if (rule.direction) out << YAML::Key << "direction" << YAML::Value << std::string(to_string(*rule.direction));
    out << YAML::Key << "action" << YAML::Value;
    emit_action(out, rule.action, c.upstreams);
    out << YAML::EndMap;
  }
  if (c.default_route) {
    out << YAML::BeginMap << YAML::Key << "default" << YAML::Value;
    emit_action(out, *c.default_route, c.upstreams);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace

std::string to_yaml(const config& c) {
  YAML::Emitter out;
  out << YAML::Comment("detourd's effective configuration; passwords redacted") << YAML::Newline;
  out << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value << std::string(to_string(c.mode));
  out << YAML::Key << "port" << YAML::Value << c.port;
  out << YAML::Key << "workers" << YAML::Value;
  if (c.workers == 0) {
    out << "auto";
  } else {
    out << c.workers;
  }
  out << YAML::Key << "mark" << YAML::Value << fmt::format("{:#x}", c.mark);
  out << YAML::Key << "connect_timeout" << YAML::Value << duration_text(c.connect_timeout);
  out << YAML::Key << "idle_timeout" << YAML::Value << duration_text(c.idle_timeout);
  out << YAML::Key << "drain_timeout" << YAML::Value << duration_text(c.drain_timeout);
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap << YAML::Key << "level" << YAML::Value << c.log_level
      << YAML::EndMap;
  out << YAML::Key << "access_log" << YAML::Value << YAML::BeginMap << YAML::Key << "path" << YAML::Value;
  switch (c.access_log.to) {
    case access_log_config::target::off:
      out << "off";
      break;
    case access_log_config::target::standard_output:
      out << "stdout";
      break;
    case access_log_config::target::file:
      out << c.access_log.path;
      break;
  }
  out << YAML::EndMap;
  emit_intercept(out, c.intercept);
  emit_upstreams(out, c.upstreams);
  emit_routes(out, c);
  out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << (c.admin.listen ? net::to_string(*c.admin.listen) : "off");
  out << YAML::Key << "allow_remote" << YAML::Value << c.admin.allow_remote;
  out << YAML::EndMap;
  const auto& l = c.limits;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_connections" << YAML::Value
      << (l.max_connections ? std::to_string(*l.max_connections) : std::string("auto"));
  out << YAML::Key << "max_connections_per_source" << YAML::Value
      << (l.max_connections_per_source ? std::to_string(*l.max_connections_per_source) : std::string("off"));
  out << YAML::Key << "ipv6_source_prefix" << YAML::Value << l.ipv6_source_prefix;
  out << YAML::EndMap;
  out << YAML::Key << "sniff" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.sniff.enabled;
  emit_list(out, "ports", c.sniff.ports);
  out << YAML::Key << "timeout" << YAML::Value << duration_text(c.sniff.timeout);
  out << YAML::EndMap;
  // Left out when unset, as there is no value that means "the starting user".
  if (c.run_as) {
    out << YAML::Key << "user" << YAML::Value << c.run_as->user;
    out << YAML::Key << "group" << YAML::Value << c.run_as->group;
  }
  out << YAML::EndMap << YAML::Newline;
  return out.c_str();
}

}  // namespace detour
