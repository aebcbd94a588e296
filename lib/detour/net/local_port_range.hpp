#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace detour::net {

// net.ipv4.ip_local_port_range (it serves IPv6 too): the ports the kernel picks a connecting
// socket's source port from. A source port can be reused towards another destination, so the
// range bounds the connections open at once to each destination address and port, not in all.
// The sysctl belongs to the network namespace, so detourd reads the one it runs in.
struct local_port_range {
  std::uint32_t low = 0;
  std::uint32_t high = 0;

  std::uint32_t size() const { return high >= low ? high - low + 1 : 0; }
  // "40000-40003 (4 ports)"
  std::string to_string() const;
  friend bool operator==(const local_port_range&, const local_port_range&) = default;
};

// A string, not a path: a static path could throw before main.
inline constexpr std::string_view local_port_range_file = "/proc/sys/net/ipv4/ip_local_port_range";

// "32768\t60999\n" as the kernel writes it; nullopt for anything else.
std::optional<local_port_range> parse_local_port_range(std::string_view text);
// The file's range; nullopt when it cannot be read.
std::optional<local_port_range> read_local_port_range(
    const std::filesystem::path& file = std::filesystem::path(local_port_range_file));

}  // namespace detour::net
