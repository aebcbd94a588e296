#pragma once
// Loading a YAML document into yaml-cpp's node tree only once it is known to be bounded: nesting
// depth, node count (an alias counting the nodes it names, so a billion-laughs document is refused
// before a reader walks it), scalar length, and how much yaml-cpp's scanner would read ahead.
// yaml-cpp's node builder recurses per level and keeps every node, so a deep or huge document
// would otherwise overflow the stack or take gigabytes before anything could refuse it.
#include <yaml-cpp/yaml.h>

#include <string_view>

namespace detour::config_detail {

// The first document of `text`. Throws config_error "SOURCE:LINE:COL: YAML: REASON" for a syntax
// error or a document over a config_limits bound, and "SOURCE:LINE:COL: KEY: N bytes, over the limit
// of M" for a scalar longer than config_limits::string_bytes.
YAML::Node load_bounded_yaml(std::string_view text, std::string_view source);

}  // namespace detour::config_detail
