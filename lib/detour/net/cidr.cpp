#include "detour/net/cidr.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace detour::net {
namespace {

__extension__ typedef unsigned __int128 u128;

// Addresses as integers in a 128-bit space; IPv4 uses the low 32 bits with width 32.
u128 to_int(const boost::asio::ip::address& a) {
  if (a.is_v4()) return a.to_v4().to_uint();
  u128 v = 0;
  for (auto byte : a.to_v6().to_bytes()) v = (v << 8) | byte;
  return v;
}

boost::asio::ip::address from_int(u128 v, bool v4) {
  if (v4) return boost::asio::ip::address_v4(static_cast<std::uint32_t>(v));
  boost::asio::ip::address_v6::bytes_type bytes{};
  for (int i = 15; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  return boost::asio::ip::address_v6(bytes);
}

unsigned width(bool v4) { return v4 ? 32 : 128; }

u128 host_mask(unsigned prefix, bool v4) {
  unsigned host_bits = width(v4) - prefix;
  if (host_bits == 0) return 0;
  if (host_bits == 128) return ~u128{0};
  return (u128{1} << host_bits) - 1;
}

struct interval {
  u128 first;
  u128 last;
};

}  // namespace

bool cidr::contains(const boost::asio::ip::address& a) const {
  if (a.is_v4() != address.is_v4()) return false;
  auto mask = host_mask(prefix_length, address.is_v4());
  return (to_int(a) & ~mask) == to_int(address);
}

std::string cidr::to_string() const { return fmt::format("{}/{}", address.to_string(), prefix_length); }

std::optional<cidr> parse_cidr(std::string_view text, std::string* why) {
  auto slash = text.find('/');
  std::string addr_text(text.substr(0, slash));
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(addr_text, ec);
  if (ec) {
    if (why) *why = fmt::format("\"{}\" is not an IPv4 or IPv6 address", addr_text);
    return std::nullopt;
  }
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  unsigned max = width(addr.is_v4());
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    auto len = text.substr(slash + 1);
    auto [end, perr] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || perr != std::errc{} || end != len.data() + len.size() || prefix > max) {
      if (why) *why = fmt::format("\"{}\" is not a prefix length from 0 to {}", len, max);
      return std::nullopt;
    }
  }
  auto masked = to_int(addr) & ~host_mask(prefix, addr.is_v4());
  return cidr{from_int(masked, addr.is_v4()), prefix};
}

std::vector<cidr> merge_cidrs(std::vector<cidr> input) {
  std::vector<cidr> out;
  for (bool v4 : {true, false}) {
    std::vector<interval> spans;
    for (const auto& c : input) {
      if (c.is_v4() != v4) continue;
      auto first = to_int(c.address);
      spans.push_back({first, first | host_mask(c.prefix_length, v4)});
    }
    std::sort(spans.begin(), spans.end(), [](const interval& a, const interval& b) { return a.first < b.first; });
    std::vector<interval> merged;
    for (const auto& s : spans) {
      // Adjacent spans merge too, so 10.0.0.0/9 + 10.128.0.0/9 become 10.0.0.0/8.
      if (!merged.empty() && (merged.back().last == host_mask(0, v4) || s.first <= merged.back().last + 1)) {
        merged.back().last = std::max(merged.back().last, s.last);
      } else {
        merged.push_back(s);
      }
    }
    // Cover each span with the largest aligned prefixes that fit.
    for (auto s : merged) {
      for (;;) {
        unsigned prefix = 0;
        while (prefix < width(v4)) {
          auto mask = host_mask(prefix, v4);
          if ((s.first & mask) == 0 && (s.first | mask) <= s.last) break;
          ++prefix;
        }
        auto end = s.first | host_mask(prefix, v4);
        out.push_back(cidr{from_int(s.first, v4), prefix});
        if (end >= s.last) break;
        s.first = end + 1;
      }
    }
  }
  return out;
}

}  // namespace detour::net
