#include "detour/config/list_file_reader.hpp"

#include "detour/config/bounded_file.hpp"
#include "detour/config/config_limits.hpp"

#include <fmt/format.h>

namespace detour::config_detail {

void for_each_list_line(std::string_view text, const std::function<void(std::size_t, std::string_view)>& entry) {
  std::size_t line = 0;
  while (!text.empty()) {
    ++line;
    const auto end = text.find('\n');
    auto current = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (auto hash = current.find('#'); hash != std::string_view::npos) current = current.substr(0, hash);
    const auto first = current.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    current = current.substr(first, current.find_last_not_of(" \t\r") - first + 1);
    entry(line, current);
  }
}

void check_list_file_entries(const std::string& path, std::size_t line, std::size_t count) {
  if (count > config_limits::address_entries) {
    throw config_error(fmt::format("{}:{}: entry {}, over the limit of {} entries", path, line, count,
                                   config_limits::address_entries));
  }
}

std::string read_list_file_text(const std::string& path) {
  return read_bounded_file(path, config_limits::list_file_bytes);
}

}  // namespace detour::config_detail
