#include "detour/config/config.hpp"

#include "detour/config/access_log_section.hpp"
#include "detour/config/admin_section.hpp"
#include "detour/config/bounded_file.hpp"
#include "detour/config/bounded_yaml.hpp"
#include "detour/config/config_limits.hpp"
#include "detour/config/intercept_section.hpp"
#include "detour/config/limits_section.hpp"
#include "detour/config/routes_section.hpp"
#include "detour/config/run_as.hpp"
#include "detour/config/sniff_section.hpp"
#include "detour/config/upstreams_section.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <spdlog/common.h>

namespace detour {

using namespace config_detail;

std::string_view to_string(mode m) {
  switch (m) {
    case mode::direct:
      return "direct";
    case mode::echo:
      return "echo";
    case mode::reject:
      return "reject";
  }
  return "?";
}

std::string_view to_string(failure_policy p) { return p == failure_policy::closed ? "closed" : "open"; }

std::string_view to_string(traffic_direction d) { return d == traffic_direction::inbound ? "inbound" : "outbound"; }

std::string_view to_string(upstream_kind k) {
  switch (k) {
    case upstream_kind::socks5:
      return "socks5";
    case upstream_kind::http:
      return "http";
    case upstream_kind::forward:
      return "forward";
  }
  return "?";
}

std::string_view to_string(proxy_protocol_version v) {
  switch (v) {
    case proxy_protocol_version::none:
      return "none";
    case proxy_protocol_version::v1:
      return "v1";
    case proxy_protocol_version::v2:
      return "v2";
  }
  return "?";
}

std::string_view to_string(name_resolution r) { return r == name_resolution::remote ? "remote" : "local"; }

std::string_view to_string(route_kind k) {
  switch (k) {
    case route_kind::direct:
      return "direct";
    case route_kind::upstream:
      return "upstream";
    case route_kind::echo:
      return "echo";
    case route_kind::echo_json:
      return "echo json";
    case route_kind::reject:
      return "reject";
  }
  return "?";
}

route_action config::default_action() const {
  if (default_route) return *default_route;
  switch (mode) {
    case mode::direct:
      return {route_kind::direct, 0};
    case mode::echo:
      return {route_kind::echo, 0};
    case mode::reject:
      return {route_kind::reject, 0};
  }
  return {};
}

std::optional<mode> parse_mode(std::string_view text) {
  if (text == "direct") return mode::direct;
  if (text == "echo") return mode::echo;
  if (text == "reject") return mode::reject;
  return std::nullopt;
}

namespace {

void read_log(std::string_view source, const YAML::Node& node, config& out) {
  mapping log(source, node, "log");
  if (auto v = log.take("level")) {
    auto text = read_string(source, *v, "log.level");
    if (spdlog::level::from_str(text) == spdlog::level::off && text != "off") {
      fail(source, v->Mark(), "log.level",
           fmt::format("expected one of trace, debug, info, warn, error, critical, off, got \"{}\"", text));
    }
    out.log_level = text;
  }
  log.finish();
}

// Resolved here rather than at startup, so that `detourd check` refuses a user this host lacks.
std::optional<run_as_config> read_run_as(std::string_view source, const std::optional<YAML::Node>& user,
                                         const std::optional<YAML::Node>& group) {
  if (!user) {
    if (group) fail(source, group->Mark(), "group", "needs `user:`; without it detourd keeps the user it starts as");
    return std::nullopt;
  }
  const auto user_text = read_string(source, *user, "user");
  std::string group_text;
  if (group) {
    group_text = read_string(source, *group, "group");
    if (group_text.empty()) fail(source, group->Mark(), "group", "expected a group name or a numeric gid, got \"\"");
  }
  auto resolved = resolve_run_as(user_text, group_text);
  if (auto* problem = std::get_if<run_as_problem>(&resolved)) {
    fail(source, (problem->key == "group" && group ? *group : *user).Mark(), problem->key, problem->reason);
  }
  return std::get<run_as_config>(resolved);
}

}  // namespace

config parse_config(std::string_view yaml_text, std::string_view source_name) {
  const YAML::Node root = load_bounded_yaml(yaml_text, source_name);
  config out;
  mapping top(source_name, root, "");
  if (auto v = top.take("mode")) {
    auto text = read_string(source_name, *v, "mode");
    auto m = parse_mode(text);
    if (!m) fail(source_name, v->Mark(), "mode", fmt::format("expected direct, echo or reject, got \"{}\"", text));
    out.mode = *m;
  }
  if (auto v = top.take("port")) out.port = static_cast<std::uint16_t>(read_int(source_name, *v, "port", 1, 65535));
  if (auto v = top.take("workers")) {
    if (v->IsScalar() && v->Scalar() == "auto") {
      out.workers = 0;
    } else {
      out.workers = static_cast<unsigned>(read_int(source_name, *v, "workers", 1, 1024));
    }
  }
  YAML::Mark mark_at = YAML::Mark::null_mark();
  if (auto v = top.take("mark")) {
    out.mark = static_cast<std::uint32_t>(read_int(source_name, *v, "mark", 0, 0xffffffff));
    mark_at = v->Mark();
  }
  if (auto v = top.take("connect_timeout")) {
    out.connect_timeout = read_duration(source_name, *v, "connect_timeout");
    if (out.connect_timeout.count() == 0) fail(source_name, v->Mark(), "connect_timeout", "must be longer than 0ms");
  }
  if (auto v = top.take("idle_timeout")) out.idle_timeout = read_duration(source_name, *v, "idle_timeout");
  if (auto v = top.take("drain_timeout")) out.drain_timeout = read_duration(source_name, *v, "drain_timeout");
  if (auto v = top.take("log")) read_log(source_name, *v, out);
  if (auto v = top.take("access_log")) read_access_log(source_name, *v, out.access_log);
  if (auto v = top.take("intercept")) read_intercept(source_name, *v, out.intercept);
  // After connect_timeout (the upstreams' default) and before routes (which name upstreams).
  if (auto v = top.take("upstreams")) read_upstreams(source_name, *v, out.connect_timeout, out.upstreams);
  if (auto v = top.take("routes")) read_routes(source_name, *v, out.upstreams, out.routes, out.default_route);
  if (auto v = top.take("admin")) read_admin(source_name, *v, out.admin);
  if (auto v = top.take("limits")) read_limits(source_name, *v, out.limits);
  if (auto v = top.take("sniff")) read_sniff(source_name, *v, out.sniff);
  auto user = top.take("user");
  auto group = top.take("group");
  out.run_as = read_run_as(source_name, user, group);
  top.finish();
  // With a user to run as, the rules exclude that user's connections (exclude_run_user), which
  // covers detourd's own upstream connections as the self uid exclusion does.
  if (out.mark == 0 && out.intercept.enabled && !out.intercept.exclude_self_uid && !out.run_as) {
    // Without either exclusion our own rules would redirect every upstream connection detourd
    // makes back into detourd, until it runs out of descriptors.
    fail(source_name, mark_at, "mark",
         "0 leaves detourd's own upstream connections to be captured by its rules and redirected back into it; "
         "keep a mark or set intercept.exclude_self_uid: true");
  }
  return out;
}

config load_config_file(const std::filesystem::path& path) {
  return parse_config(read_bounded_file(path, config_limits::file_bytes), path.string());
}

config default_config() { return parse_config(embedded_default_config(), "(embedded default config)"); }

}  // namespace detour
