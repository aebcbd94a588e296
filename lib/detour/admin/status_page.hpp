#pragma once
// The status page the admin endpoint serves at GET /: lib/detour/admin/status_page.html, compiled
// into the binary by CMake (status_page.cpp.in), so the page always matches the daemon's JSON.
#include <string_view>

namespace detour::admin {

// The whole page, one self-contained HTML document (inline CSS and script, no external assets).
std::string_view status_page();

}  // namespace detour::admin
