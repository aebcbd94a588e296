#pragma once
#include "detour/config/config.hpp"

#include <yaml-cpp/yaml.h>

namespace detour::config_detail {

void read_sniff(std::string_view source, const YAML::Node& node, sniff_config& out);

}  // namespace detour::config_detail
