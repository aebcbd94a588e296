#pragma once
#include "detour/config/config.hpp"

#include <yaml-cpp/yaml.h>

namespace detour::config_detail {

// `default_timeout` is the top-level connect_timeout, which an upstream without its own inherits.
void read_upstreams(std::string_view source, const YAML::Node& node, std::chrono::milliseconds default_timeout,
                    std::vector<upstream_config>& out);

// "192.0.2.1:1080" or "[2001:db8::1]:1080". Addresses only, no host names: the upstream's address
// must be known when the capture rules are installed, to exclude it from capture.
std::optional<boost::asio::ip::tcp::endpoint> parse_server_address(std::string_view text, std::string* why);

// `proxy_protocol: v1 | v2`, of a forward upstream or a direct route.
proxy_protocol_version read_proxy_protocol(std::string_view source, const YAML::Node& node, std::string_view key);

}  // namespace detour::config_detail
