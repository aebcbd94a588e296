#include "detour/net/port_range.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>

namespace detour::net {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text, std::string* why) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    if (why) *why = fmt::format("\"{}\" is not a port number", text);
    return std::nullopt;
  }
  if (value < 1 || value > 65535) {
    if (why) *why = fmt::format("port {} is out of range 1-65535", value);
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string port_range::to_string() const {
  return first == last ? fmt::format("{}", first) : fmt::format("{}-{}", first, last);
}

std::optional<port_range> parse_port_range(std::string_view text, std::string* why) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto p = parse_port(text, why);
    if (!p) return std::nullopt;
    return port_range{*p, *p};
  }
  auto first = parse_port(text.substr(0, dash), why);
  if (!first) return std::nullopt;
  auto last = parse_port(text.substr(dash + 1), why);
  if (!last) return std::nullopt;
  if (*first > *last) {
    if (why) *why = fmt::format("range \"{}\" ends before it starts", text);
    return std::nullopt;
  }
  return port_range{*first, *last};
}

std::vector<port_range> merge_port_ranges(std::vector<port_range> input) {
  std::sort(input.begin(), input.end(), [](const port_range& a, const port_range& b) { return a.first < b.first; });
  std::vector<port_range> out;
  for (const auto& r : input) {
    if (!out.empty() && static_cast<unsigned>(r.first) <= static_cast<unsigned>(out.back().last) + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace detour::net
