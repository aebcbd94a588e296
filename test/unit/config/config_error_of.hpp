#pragma once
// The config tests assert error messages exactly, as detourd prints them.
#include "detour/config/config.hpp"

#include <string>
#include <string_view>

namespace detour::test {

// The message parse_config() refuses `yaml` with (calling the file `source`), or "(no error)".
inline std::string config_error_of(std::string_view yaml, std::string_view source) {
  try {
    parse_config(yaml, source);
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace detour::test
