#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace detour::net {

// The connection tracking table's fill. Every relayed connection takes two entries (the
// redirected client connection and detourd's own upstream one); once nf_conntrack_count reaches
// nf_conntrack_max the kernel drops the first packet of every new connection ("nf_conntrack:
// table full, dropping packet" in the kernel log), which detourd sees only as connect timeouts.
// Both values are per network namespace (the max read-only outside the initial one).
struct conntrack_usage {
  std::uint64_t count = 0;
  std::uint64_t max = 0;

  // Within 1 % of the max: entries expire and are created all the time, so a table that is full
  // for the kernel reads a little under full a moment later.
  bool nearly_full() const { return max != 0 && count * 100 >= max * 99; }
  // "262100 of 262144 entries"
  std::string to_string() const;
};

// A string, not a path: a static path could throw before main.
inline constexpr std::string_view conntrack_directory = "/proc/sys/net/netfilter";

// nf_conntrack_count and nf_conntrack_max in `directory`; nullopt when conntrack is not loaded.
std::optional<conntrack_usage> read_conntrack_usage(
    const std::filesystem::path& directory = std::filesystem::path(conntrack_directory));

}  // namespace detour::net
