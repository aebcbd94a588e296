#pragma once
// A byte-level look at a YAML text's flow collections ([...] and {...}) before yaml-cpp sees it.
// yaml-cpp's scanner reads a flow collection that could turn out to be a mapping key ahead whole,
// holding about 140 bytes of tokens per byte of it, and only then produces its first event, so
// neither a deep `[[[[...` nor a large `[[1, 1, ...]]` could be refused from its events before the
// memory is spent (8 MiB of `[` took 1.9 GB).
#include <string_view>

namespace detour::config_detail {

// Throws config_error "SOURCE:LINE:COL: YAML: nested too deep (limit N)" at the first flow
// collection nested deeper than config_limits::nesting_depth, or "... YAML: [...] or {...} longer
// than N bytes ..." at one that yaml-cpp would read ahead and that is longer than
// config_limits::lookahead_bytes, or "... YAML: a scalar longer than N bytes; the limit is M" at a
// run of text with no space or flow indicator (or a quoted or block scalar) longer than that. Quoted scalars, comments
// and block scalars are skipped; the scan is an upper bound, so a text it passes may still be refused by yaml-cpp
// itself.
void check_flow_collections(std::string_view text, std::string_view source);

}  // namespace detour::config_detail
