#pragma once
#include "detour/config/config.hpp"

#include <string>
#include <string_view>

namespace detour {

// What an upstream password is written as: the config endpoint shows that one is set, never what.
inline constexpr std::string_view redacted_password = "<redacted>";

// The effective configuration as YAML, every key of every section, defaults included, so an
// operator sees what detourd runs with rather than what the file left out. Upstream passwords are
// written as redacted_password. parse_config() reads the text back into the same config, but for
// those passwords.
std::string to_yaml(const config& c);

}  // namespace detour
