#include "detour/upstream/proxy_protocol.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

namespace detour::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The 12 bytes every version 2 header starts with; the NUL in the middle makes it no C string.
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr char v2_version_proxy = 0x21;  // version 2, command PROXY
constexpr char v2_tcp_over_ipv4 = 0x11;
constexpr char v2_tcp_over_ipv6 = 0x21;
constexpr char pp2_type_authority = 0x02;
constexpr char pp2_type_unique_id = 0x05;

// Both endpoints in the one family the header will use: IPv4 when both are (mapped ones
// included), else IPv6. The scope id of a link-local address is dropped: it names an interface of
// this host, which means nothing to the receiver.
struct endpoint_pair {
  tcp::endpoint source;
  tcp::endpoint destination;
  bool v4 = true;
};

asio::ip::address_v6 as_v6(const asio::ip::address& a) {
  if (a.is_v4()) return asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4());
  return asio::ip::address_v6(a.to_v6().to_bytes());
}

endpoint_pair same_family(const tcp::endpoint& source, const tcp::endpoint& destination) {
  const auto s = net::unmap(source);
  const auto d = net::unmap(destination);
  if (s.address().is_v4() && d.address().is_v4()) return {s, d, true};
  return {tcp::endpoint(as_v6(s.address()), s.port()), tcp::endpoint(as_v6(d.address()), d.port()), false};
}

void append_u16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

void append_address(std::string& out, const asio::ip::address& a, bool v4) {
  if (v4) {
    const auto bytes = a.to_v4().to_bytes();
    out.append(bytes.begin(), bytes.end());
  } else {
    const auto bytes = a.to_v6().to_bytes();
    out.append(bytes.begin(), bytes.end());
  }
}

void append_tlv(std::string& out, char type, std::string_view value) {
  out.push_back(type);
  append_u16(out, value.size());
  out.append(value);
}

}  // namespace

std::string proxy_header_v1(const tcp::endpoint& source, const tcp::endpoint& destination) {
  const auto p = same_family(source, destination);
  return fmt::format("PROXY {} {} {} {} {}\r\n", p.v4 ? "TCP4" : "TCP6", p.source.address().to_string(),
                     p.destination.address().to_string(), p.source.port(), p.destination.port());
}

std::string proxy_header_v2(const tcp::endpoint& source, const tcp::endpoint& destination, std::string_view authority,
                            std::uint64_t unique_id) {
  const auto p = same_family(source, destination);
  const auto id = fmt::format("{}", unique_id);
  const bool with_authority = !authority.empty() && authority.size() <= proxy_authority_max_bytes;
  const std::size_t addresses = p.v4 ? 12 : 36;
  const std::size_t tlvs = (with_authority ? 3 + authority.size() : 0) + 3 + id.size();

  std::string out;
  out.reserve(v2_signature.size() + 4 + addresses + tlvs);
  out.append(v2_signature);
  out.push_back(v2_version_proxy);
  out.push_back(p.v4 ? v2_tcp_over_ipv4 : v2_tcp_over_ipv6);
  append_u16(out, addresses + tlvs);
  append_address(out, p.source.address(), p.v4);
  append_address(out, p.destination.address(), p.v4);
  append_u16(out, p.source.port());
  append_u16(out, p.destination.port());
  if (with_authority) append_tlv(out, pp2_type_authority, authority);
  append_tlv(out, pp2_type_unique_id, id);
  return out;
}

std::string proxy_header(proxy_protocol_version version, const tcp::endpoint& source, const tcp::endpoint& destination,
                         std::string_view authority, std::uint64_t unique_id) {
  switch (version) {
    case proxy_protocol_version::v1:
      return proxy_header_v1(source, destination);
    case proxy_protocol_version::v2:
      return proxy_header_v2(source, destination, authority, unique_id);
    case proxy_protocol_version::none:
      break;
  }
  return {};
}

}  // namespace detour::upstream
