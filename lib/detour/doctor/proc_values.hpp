#pragma once
// The doctor's reads of /proc: sysctls, this process's capabilities and limits. Each returns
// nullopt (or a safe empty value) when the file is absent, which for a sysctl means the module
// behind it is not loaded.
#include "detour/doctor/probe_results.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace detour::doctor {

// The first number in the file ("262144\n").
std::optional<std::uint64_t> read_number(const std::filesystem::path& file);
// The first two ("32768\t60999\n", net.ipv4.ip_local_port_range).
std::optional<std::pair<std::uint64_t, std::uint64_t>> read_number_pair(const std::filesystem::path& file);
// Whether a whitespace-separated word of the file is `word` (/proc/net/ip_tables_names: "nat").
bool file_lists_word(const std::filesystem::path& file, std::string_view word);

// The CapEff mask of a /proc/PID/status text; 0 when the line is missing.
std::uint64_t parse_effective_capabilities(std::string_view status_text);
// This process's.
std::uint64_t effective_capabilities();

descriptor_limits read_descriptor_limits();

}  // namespace detour::doctor
