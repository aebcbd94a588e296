#include "detour/net/local_port_range.hpp"

#include "detour/net/proc_text.hpp"

#include <fmt/format.h>

namespace detour::net {

std::string local_port_range::to_string() const {
  return fmt::format("{}-{} ({} port{})", low, high, size(), size() == 1 ? "" : "s");
}

std::optional<local_port_range> parse_local_port_range(std::string_view text) {
  auto numbers = parse_numbers(text);
  if (numbers.size() != 2 || numbers[0] > 65535 || numbers[1] > 65535) return std::nullopt;
  return local_port_range{static_cast<std::uint32_t>(numbers[0]), static_cast<std::uint32_t>(numbers[1])};
}

std::optional<local_port_range> read_local_port_range(const std::filesystem::path& file) {
  auto text = read_proc_text(file);
  if (!text) return std::nullopt;
  return parse_local_port_range(*text);
}

}  // namespace detour::net
