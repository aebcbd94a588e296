#include "detour/doctor/proc_values.hpp"

#include <sys/resource.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace detour::doctor {
namespace {

std::optional<std::string> read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<std::uint64_t> read_number(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::uint64_t value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> read_number_pair(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::uint64_t first = 0;
  std::uint64_t second = 0;
  if (!(in >> first >> second)) return std::nullopt;
  return std::pair{first, second};
}

bool file_lists_word(const std::filesystem::path& file, std::string_view word) {
  std::ifstream in(file);
  for (std::string w; in >> w;) {
    if (w == word) return true;
  }
  return false;
}

std::uint64_t parse_effective_capabilities(std::string_view status_text) {
  constexpr std::string_view key = "\nCapEff:";
  auto at = status_text.find(key);
  if (at == std::string_view::npos) return 0;
  auto rest = status_text.substr(at + key.size());
  auto first = rest.find_first_not_of(" \t");
  if (first == std::string_view::npos) return 0;
  rest.remove_prefix(first);
  std::uint64_t mask = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), mask, 16);
  return mask;
}

std::uint64_t effective_capabilities() {
  auto text = read_text("/proc/self/status");
  return text ? parse_effective_capabilities(*text) : 0;
}

descriptor_limits read_descriptor_limits() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  return {limit.rlim_cur, limit.rlim_max};
}

}  // namespace detour::doctor
