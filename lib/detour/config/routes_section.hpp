#pragma once
#include "detour/config/config.hpp"

#include <yaml-cpp/yaml.h>

namespace detour::config_detail {

// `upstreams` must already be read: actions name them and are resolved to indexes here.
void read_routes(std::string_view source, const YAML::Node& node, const std::vector<upstream_config>& upstreams,
                 std::vector<route_rule>& out, std::optional<route_action>& default_route);

}  // namespace detour::config_detail
