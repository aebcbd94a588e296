#include "detour/net/cidr.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>

namespace detour::net {
namespace {

uint128 host_mask(unsigned prefix, bool v4) {
  unsigned host_bits = address_bits(v4) - prefix;
  if (host_bits == 0) return 0;
  if (host_bits == 128) return ~uint128{0};
  return (uint128{1} << host_bits) - 1;
}

}  // namespace

boost::asio::ip::address from_integer(uint128 value, bool v4) {
  if (v4) return boost::asio::ip::address_v4(static_cast<std::uint32_t>(value));
  boost::asio::ip::address_v6::bytes_type bytes{};
  for (int i = 15; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(value & 0xff);
    value >>= 8;
  }
  return boost::asio::ip::address_v6(bytes);
}

address_range cidr::bounds() const {
  auto mask = host_mask(prefix_length, is_v4());
  auto first = to_integer(address) & ~mask;
  return {first, first | mask};
}

bool cidr::contains(const boost::asio::ip::address& a) const {
  if (a.is_v4() != address.is_v4()) return false;
  auto range = bounds();
  auto value = to_integer(a);
  return value >= range.first && value <= range.last;
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
  addr = unmap(addr);
  unsigned max = address_bits(addr.is_v4());
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    auto len = text.substr(slash + 1);
    auto [end, perr] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || perr != std::errc{} || end != len.data() + len.size() || prefix > max) {
      if (why) *why = fmt::format("\"{}\" is not a prefix length from 0 to {}", len, max);
      return std::nullopt;
    }
  }
  cidr out{addr, prefix};
  out.address = from_integer(out.bounds().first, addr.is_v4());
  return out;
}

std::vector<cidr> merge_cidrs(const std::vector<cidr>& input) {
  std::vector<cidr> out;
  for (bool v4 : {true, false}) {
    std::vector<address_range> spans;
    for (const auto& c : input) {
      if (c.is_v4() == v4) spans.push_back(c.bounds());
    }
    std::sort(spans.begin(), spans.end(),
              [](const address_range& a, const address_range& b) { return a.first < b.first; });
    std::vector<address_range> merged;
    for (const auto& s : spans) {
      // Adjacent spans merge too, so 10.0.0.0/9 + 10.128.0.0/9 become 10.0.0.0/8.
      if (!merged.empty() && (merged.back().last == max_address(v4) || s.first <= merged.back().last + 1)) {
        merged.back().last = std::max(merged.back().last, s.last);
      } else {
        merged.push_back(s);
      }
    }
    // Cover each span with the largest aligned prefixes that fit.
    for (auto s : merged) {
      for (;;) {
        unsigned prefix = 0;
        while (prefix < address_bits(v4)) {
          auto mask = host_mask(prefix, v4);
          if ((s.first & mask) == 0 && (s.first | mask) <= s.last) break;
          ++prefix;
        }
        auto end = s.first | host_mask(prefix, v4);
        out.push_back(cidr{from_integer(s.first, v4), prefix});
        if (end >= s.last) break;
        s.first = end + 1;
      }
    }
  }
  return out;
}

}  // namespace detour::net
