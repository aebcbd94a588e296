#pragma once
// The list files a route names (hosts_file, destinations_file): one entry a line, so that a
// domain or address list published elsewhere can be used as it is.
#include "detour/config/config.hpp"

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::config_detail {

// Calls `entry(line_number, text)` for every line of `text` that holds an entry: `#` starts a
// comment that runs to the end of the line, and blanks around an entry (spaces, tabs, a CR of a
// CRLF line ending) and blank lines are skipped.
void for_each_list_line(std::string_view text, const std::function<void(std::size_t, std::string_view)>& entry);

// The entries of the file at `path`, each read by `parse` (nullopt and a reason for a bad one).
// Throws config_error "PATH:LINE: REASON" for a bad line, "PATH: no ENTRY_NAME in it (...)" for a
// file without entries, and read_bounded_file's errors for one that cannot be read.
template <typename T>
std::vector<T> read_list_file(const std::string& path, std::string_view entry_name,
                              const std::function<std::optional<T>(std::string_view, std::string*)>& parse);

void check_list_file_entries(const std::string& path, std::size_t line, std::size_t count);
std::string read_list_file_text(const std::string& path);

template <typename T>
std::vector<T> read_list_file(const std::string& path, std::string_view entry_name,
                              const std::function<std::optional<T>(std::string_view, std::string*)>& parse) {
  const auto text = read_list_file_text(path);
  std::vector<T> out;
  std::string why;
  for_each_list_line(text, [&](std::size_t line, std::string_view entry) {
    check_list_file_entries(path, line, out.size() + 1);
    auto value = parse(entry, &why);
    if (!value) throw config_error(fmt::format("{}:{}: {}", path, line, why));
    out.push_back(std::move(*value));
  });
  if (out.empty()) throw config_error(fmt::format("{}: no {} in it (only comments and blank lines)", path, entry_name));
  return out;
}

}  // namespace detour::config_detail
