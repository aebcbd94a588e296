#pragma once
// The bounds on what detourd reads from a config file and the files it names. A config is
// written by an operator, but often generated or templated, and detourd reads it as root: each
// limit keeps a mistaken or hostile file from costing unbounded time, memory or stack before it
// is refused, and is far above what a real config needs (the largest we know of is under 1 MiB).
#include <cstddef>

namespace detour::config_limits {

// A 1M-entry address list written out is 17 to 45 MiB.
inline constexpr std::size_t file_bytes = 64u << 20;
// Collections within collections; detour's own schema needs 5 (routes[0].action.upstream).
// yaml-cpp builds nodes recursively, so depth is stack.
inline constexpr std::size_t nesting_depth = 64;
// Every scalar, collection and alias (counted as the nodes it names) in the document.
inline constexpr std::size_t yaml_nodes = 2'000'000;
// yaml-cpp reads a flow collection ([...] or {...}) that could be a mapping key ahead whole,
// about 140 bytes of memory per byte of it, before it produces anything; only one that follows
// `key:` on its line is read as it goes (measured with yaml-cpp 0.7). It scans a scalar whole,
// at a few MB/s, too, before its length can be checked, so a scalar already this long in the text is
// refused before yaml-cpp sees it (string_bytes bounds the others).
inline constexpr std::size_t lookahead_bytes = 1u << 20;

// Each destinations, sources, hosts ... list, and each hosts_file or destinations_file.
inline constexpr std::size_t address_entries = 1'000'000;
inline constexpr std::size_t list_entries = 65'536;  // ports, uids, gids, interfaces, servers
inline constexpr std::size_t routes = 10'000;
inline constexpr std::size_t upstreams = 1'000;

inline constexpr std::size_t name_bytes = 64;                // route and upstream names, nft table name
inline constexpr std::size_t interface_bytes = 15;           // IFNAMSIZ less its terminating zero
inline constexpr std::size_t socks5_credential_bytes = 255;  // RFC 1929: one length byte
inline constexpr std::size_t path_bytes = 4095;              // PATH_MAX less its terminating zero
inline constexpr std::size_t string_bytes = 4096;            // any other scalar, keys included
// A hosts_file or destinations_file: a 1M-line domain list is about 20 MiB, an address list up to
// 45 MiB (see file_bytes).
inline constexpr std::size_t list_file_bytes = 64u << 20;
// A password file holds a password and perhaps a line ending.
inline constexpr std::size_t password_file_bytes = string_bytes + 2;

}  // namespace detour::config_limits
