#pragma once
#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::net {

// Addresses as unsigned integers, for prefix and interval arithmetic: an IPv4 address in the low
// 32 bits, an IPv6 address in all 128, big-endian byte order turned into numeric order.
__extension__ using uint128 = unsigned __int128;

constexpr unsigned address_bits(bool v4) { return v4 ? 32U : 128U; }
constexpr uint128 max_address(bool v4) { return v4 ? uint128{0xffffffffU} : ~uint128{0}; }

// Inline because router::decide converts every IPv6 destination and source with it.
inline uint128 to_integer(const boost::asio::ip::address_v6& a) {
  uint128 v = 0;
  for (auto byte : a.to_bytes()) v = (v << 8) | byte;
  return v;
}
inline uint128 to_integer(const boost::asio::ip::address& a) {
  return a.is_v4() ? uint128{a.to_v4().to_uint()} : to_integer(a.to_v6());
}
// The inverse of to_integer; bits above the family's width are ignored.
boost::asio::ip::address from_integer(uint128 value, bool v4);

// The first and last address of a prefix, as integers (see to_integer).
struct address_range {
  uint128 first;
  uint128 last;
};

// An address prefix such as 10.0.0.0/8 or fd00::/8. The stored address is always masked, so two
// cidrs that cover the same addresses compare equal.
struct cidr {
  boost::asio::ip::address address;
  unsigned prefix_length = 0;

  bool is_v4() const { return address.is_v4(); }
  bool contains(const boost::asio::ip::address& a) const;
  address_range bounds() const;
  std::string to_string() const;
  friend bool operator==(const cidr&, const cidr&) = default;
};

// Parses "a.b.c.d/n", "x::y/n" or a bare address (a host prefix). Returns nullopt and sets `why` on
// failure, so callers can put the reason into a config error.
std::optional<cidr> parse_cidr(std::string_view text, std::string* why = nullptr);

// Merges overlapping and adjacent prefixes, per family, into the fewest covering prefixes. The
// kernel rejects overlapping interval-set elements (EEXIST), so every set goes through this.
std::vector<cidr> merge_cidrs(const std::vector<cidr>& input);

}  // namespace detour::net
