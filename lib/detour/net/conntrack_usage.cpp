#include "detour/net/conntrack_usage.hpp"

#include "detour/net/proc_text.hpp"

#include <fmt/format.h>

namespace detour::net {

namespace {

std::optional<std::uint64_t> read_single_number(const std::filesystem::path& file) {
  auto text = read_proc_text(file);
  if (!text) return std::nullopt;
  auto numbers = parse_numbers(*text);
  if (numbers.size() != 1) return std::nullopt;
  return numbers.front();
}

}  // namespace

std::string conntrack_usage::to_string() const { return fmt::format("{} of {} entries", count, max); }

std::optional<conntrack_usage> read_conntrack_usage(const std::filesystem::path& directory) {
  auto count = read_single_number(directory / "nf_conntrack_count");
  auto max = read_single_number(directory / "nf_conntrack_max");
  if (!count || !max) return std::nullopt;
  return conntrack_usage{*count, *max};
}

}  // namespace detour::net
