#pragma once
#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::net {

// An address prefix such as 10.0.0.0/8 or fd00::/8. The stored address is always masked, so two
// cidrs that cover the same addresses compare equal.
struct cidr {
  boost::asio::ip::address address;
  unsigned prefix_length = 0;

  bool is_v4() const { return address.is_v4(); }
  bool contains(const boost::asio::ip::address& a) const;
  std::string to_string() const;
  friend bool operator==(const cidr&, const cidr&) = default;
};

// Parses "a.b.c.d/n", "x::y/n" or a bare address (a host prefix). Returns nullopt and sets `why` on
// failure, so callers can put the reason into a config error.
std::optional<cidr> parse_cidr(std::string_view text, std::string* why = nullptr);

// Merges overlapping and adjacent prefixes, per family, into the fewest covering prefixes. The
// kernel rejects overlapping interval-set elements (EEXIST), so every set goes through this.
std::vector<cidr> merge_cidrs(std::vector<cidr> input);

}  // namespace detour::net
