#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::net {

// An inclusive range of TCP ports; a single port has first == last.
struct port_range {
  std::uint16_t first = 0;
  std::uint16_t last = 0;

  bool contains(std::uint16_t port) const { return port >= first && port <= last; }
  std::string to_string() const;
  friend bool operator==(const port_range&, const port_range&) = default;
};

// Parses "80", "8000-8080". Port 0 is refused: it never appears on the wire as a destination.
std::optional<port_range> parse_port_range(std::string_view text, std::string* why = nullptr);

// Sorts and merges overlapping or adjacent ranges.
std::vector<port_range> merge_port_ranges(std::vector<port_range> input);

}  // namespace detour::net
