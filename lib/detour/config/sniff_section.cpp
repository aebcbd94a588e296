#include "detour/config/sniff_section.hpp"

#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

namespace detour::config_detail {
namespace {

// Every connection to a sniffed port may wait this long before it is routed, and a client that
// sends nothing (a server-first protocol on a port listed by mistake) always does: beyond a few
// seconds that is an outage, not a setting.
constexpr std::chrono::milliseconds max_timeout{std::chrono::seconds(10)};

}  // namespace

void read_sniff(std::string_view source, const YAML::Node& node, sniff_config& out) {
  mapping m(source, node, "sniff");
  if (auto v = m.take("enabled")) out.enabled = read_bool(source, *v, "sniff.enabled");
  if (auto v = m.take("ports")) {
    out.ports = read_port_ranges(source, *v, "sniff.ports");
    // Elsewhere an empty port list means every port; here that would hold up every connection.
    if (out.ports.empty()) fail(source, v->Mark(), "sniff.ports", "an empty list sniffs no port; use enabled: false");
  }
  if (auto v = m.take("timeout")) {
    out.timeout = read_duration(source, *v, "sniff.timeout");
    if (out.timeout.count() == 0 || out.timeout > max_timeout) {
      fail(source, v->Mark(), "sniff.timeout",
           fmt::format("expected a duration from 1ms to 10s, got \"{}\"", v->Scalar()));
    }
  }
  m.finish();
}

}  // namespace detour::config_detail
