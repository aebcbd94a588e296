#pragma once
// Values the unit tests write often, parsed from their text: endpoints, raw bytes, prefixes.
#include "detour/net/cidr.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace detour::test {

inline boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

// A string of the given byte values, for wire formats.
inline std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (auto v : values) out += static_cast<char>(static_cast<unsigned char>(v));
  return out;
}

inline std::vector<net::cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<net::cidr> out;
  for (auto t : texts) out.push_back(*net::parse_cidr(t));
  return out;
}

}  // namespace detour::test
