#include "detour/net/proc_text.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace detour::net {

std::optional<std::string> read_proc_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::vector<std::uint64_t> parse_numbers(std::string_view text) {
  std::vector<std::uint64_t> out;
  constexpr std::string_view space = " \t\n";
  for (auto at = text.find_first_not_of(space); at != std::string_view::npos; at = text.find_first_not_of(space, at)) {
    auto end = std::min(text.find_first_of(space, at), text.size());
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data() + at, text.data() + end, value);
    if (ec != std::errc() || ptr != text.data() + end) return {};
    out.push_back(value);
    at = end;
  }
  return out;
}

}  // namespace detour::net
