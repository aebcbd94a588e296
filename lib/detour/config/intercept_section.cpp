#include "detour/config/intercept_section.hpp"

#include "detour/config/config_limits.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace detour::config_detail {
namespace {

// Interface names go into nft ifname sets, which match whole names: no wildcards, and the kernel's
// IFNAMSIZ of 16 bytes including the terminating zero.
std::vector<std::string> read_interfaces(std::string_view source, const YAML::Node& node, std::string_view key) {
  return read_list<std::string>(source, node, key, [&](const YAML::Node& item, const std::string& path) {
    auto name = read_string(source, item, path);
    bool bad_char = std::any_of(name.begin(), name.end(), [](char c) {
      return c == '/' || c == ':' || c == '*' || c == '"' || std::isspace(static_cast<unsigned char>(c));
    });
    if (name.empty() || name.size() > config_limits::interface_bytes || bad_char) {
      fail(source, item.Mark(), path,
           fmt::format("\"{}\" is not an interface name (1 to 15 characters, no wildcards, spaces, / or :)", name));
    }
    return name;
  });
}

// The destination filters both directions have.
template <typename Capture>
void read_destination_filters(mapping& m, Capture& out) {
  m.read("ports", out.ports, read_port_ranges);
  m.read("exclude_ports", out.exclude_ports, read_port_ranges);
  m.read("destinations", out.destinations, read_cidrs);
  m.read("exclude_destinations", out.exclude_destinations, read_cidrs);
}

void read_outbound(std::string_view source, const YAML::Node& node, outbound_capture& out) {
  mapping m(source, node, "intercept.outbound");
  m.read("enabled", out.enabled, read_bool);
  read_destination_filters(m, out);
  m.read("uids", out.uids, read_ids);
  m.read("exclude_uids", out.exclude_uids, read_ids);
  m.read("gids", out.gids, read_ids);
  m.read("exclude_gids", out.exclude_gids, read_ids);
  m.read("exclude_interfaces", out.exclude_interfaces, read_interfaces);
  m.finish();
}

void read_inbound(std::string_view source, const YAML::Node& node, inbound_capture& out) {
  mapping m(source, node, "intercept.inbound");
  m.read("enabled", out.enabled, read_bool);
  if (auto v = m.take("port")) {
    out.port = static_cast<std::uint16_t>(read_int(source, *v, "intercept.inbound.port", 1, 65535));
  }
  m.read("interfaces", out.interfaces, read_interfaces);
  m.read("sources", out.sources, read_cidrs);
  m.read("exclude_sources", out.exclude_sources, read_cidrs);
  read_destination_filters(m, out);
  m.finish();
}

// nft table names share the lexer with keywords; stick to a conservative identifier syntax.
bool valid_table_name(const std::string& name) {
  if (name.empty() || name.size() > config_limits::name_bytes || !std::isalpha(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

}  // namespace

void read_intercept(std::string_view source, const YAML::Node& node, intercept_config& out) {
  mapping m(source, node, "intercept");
  if (auto v = m.take("enabled")) out.enabled = read_bool(source, *v, "intercept.enabled");
  if (auto v = m.take("table")) {
    out.table = read_string(source, *v, "intercept.table");
    if (!valid_table_name(out.table)) {
      fail(source, v->Mark(), "intercept.table",
           fmt::format("\"{}\" is not a valid table name (a letter, then letters, digits, _ or -)", out.table));
    }
  }
  if (auto v = m.take("priority")) {
    auto priority = read_int(source, *v, "intercept.priority", -2147483648LL, 2147483647);
    // The kernel refuses a nat chain at -200 or below with a bare EOPNOTSUPP; say why before
    // anything on the host changes.
    if (priority <= -200) {
      fail(source, v->Mark(), "intercept.priority",
           fmt::format("{} is too low: the kernel accepts nat chains only above -200 (conntrack runs at -200)",
                       priority));
    }
    out.priority = static_cast<int>(priority);
  }
  if (auto v = m.take("exclude_self_uid")) out.exclude_self_uid = read_bool(source, *v, "intercept.exclude_self_uid");
  if (auto v = m.take("self_test")) out.self_test = read_bool(source, *v, "intercept.self_test");
  if (auto v = m.take("on_failure")) {
    auto text = read_string(source, *v, "intercept.on_failure");
    if (text != "open" && text != "closed")
      fail(source, v->Mark(), "intercept.on_failure", fmt::format("expected open or closed, got \"{}\"", text));
    out.on_failure = text == "closed" ? failure_policy::closed : failure_policy::open;
  }
  if (auto v = m.take("outbound")) read_outbound(source, *v, out.outbound);
  if (auto v = m.take("inbound")) read_inbound(source, *v, out.inbound);
  m.finish();
}

}  // namespace detour::config_detail
