#include "detour/config/access_log_section.hpp"

#include "detour/config/config_limits.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

namespace detour::config_detail {
namespace {

// A daemon's working directory is wherever its supervisor started it, so a relative path would
// name a different file under systemd than in a shell: only absolute paths are accepted.
access_log_config read_target(std::string_view source, const YAML::Node& node, std::string_view key) {
  auto text = read_string(source, node, key);
  if (text == "off") return {};
  if (text == "stdout") return {access_log_config::target::standard_output, {}};
  if (!text.starts_with('/')) {
    fail(source, node.Mark(), key, fmt::format("expected stdout, off or an absolute file path, got \"{}\"", text));
  }
  check_length(source, node.Mark(), key, text, config_limits::path_bytes);
  return {access_log_config::target::file, text};
}

}  // namespace

void read_access_log(std::string_view source, const YAML::Node& node, access_log_config& out) {
  mapping m(source, node, "access_log");
  m.read("path", out, read_target);
  m.finish();
}

}  // namespace detour::config_detail
