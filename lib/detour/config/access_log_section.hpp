#pragma once
#include "detour/config/config.hpp"

#include <yaml-cpp/yaml.h>

namespace detour::config_detail {

void read_access_log(std::string_view source, const YAML::Node& node, access_log_config& out);

}  // namespace detour::config_detail
