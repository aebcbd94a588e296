#include "detour/config/limits_section.hpp"

#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string>

namespace detour::config_detail {
namespace {

// Beyond any descriptor limit Linux allows (fs.nr_open tops out near 2^31), so a larger number
// is a typo rather than a wish.
constexpr std::uint64_t max_count = 1'000'000'000;

// A count of connections, or the word that stands for "no number": `auto` or `off`.
std::optional<std::uint64_t> read_count_or(std::string_view source, const YAML::Node& node, std::string_view key,
                                           std::string_view word) {
  if (node.IsScalar() && node.Scalar() == word) return std::nullopt;
  const auto text = node.IsScalar() ? node.Scalar() : std::string();
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > max_count) {
    fail(source, node.Mark(), key,
         fmt::format("expected {} or a number of connections from 1 to {}, got \"{}\"", word, max_count,
                     node.IsScalar() ? text : std::string("a list or mapping")));
  }
  return value;
}

}  // namespace

void read_limits(std::string_view source, const YAML::Node& node, limits_config& out) {
  mapping m(source, node, "limits");
  if (auto v = m.take("max_connections")) {
    out.max_connections = read_count_or(source, *v, m.key_path("max_connections"), "auto");
  }
  if (auto v = m.take("max_connections_per_source")) {
    out.max_connections_per_source = read_count_or(source, *v, m.key_path("max_connections_per_source"), "off");
  }
  if (auto v = m.take("ipv6_source_prefix")) {
    out.ipv6_source_prefix = static_cast<unsigned>(read_int(source, *v, m.key_path("ipv6_source_prefix"), 1, 128));
  }
  m.finish();
}

}  // namespace detour::config_detail
