#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::net {

// The whole of a small /proc file (a sysctl); nullopt when it cannot be opened, which for a
// sysctl means the module behind it is not loaded.
std::optional<std::string> read_proc_text(const std::filesystem::path& file);

// The whitespace-separated decimal numbers of `text`; empty if any word is not one.
std::vector<std::uint64_t> parse_numbers(std::string_view text);

}  // namespace detour::net
