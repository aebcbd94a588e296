#include "detour/sniff/host_name.hpp"

#include <algorithm>

namespace detour::sniff {
namespace {

constexpr std::size_t max_label_length = 63;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_name_byte(char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_'; }

}  // namespace

bool is_ip_literal(std::string_view text) {
  if (text.find(':') != std::string_view::npos || text.starts_with('[')) return true;
  if (text.ends_with('.')) text.remove_suffix(1);
  auto dot = text.rfind('.');
  auto last = dot == std::string_view::npos ? text : text.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), is_digit)) return true;
  return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
         std::all_of(last.begin() + 2, last.end(), is_hex_digit);
}

std::optional<std::string> normalize_host_name(std::string_view text) {
  if (text.ends_with('.')) text.remove_suffix(1);
  if (text.empty() || text.size() > max_host_name_length) return std::nullopt;
  std::string name(text.size(), '\0');
  std::transform(text.begin(), text.end(), name.begin(), lower);
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
      continue;
    }
    if (!is_name_byte(c) || ++label > max_label_length) return std::nullopt;
  }
  if (label == 0 || is_ip_literal(name)) return std::nullopt;
  return name;
}

}  // namespace detour::sniff
