#include "detour/upstream/socks5.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

namespace detour::upstream {
namespace {

constexpr std::uint8_t version = 0x05;

char byte(unsigned value) { return static_cast<char>(static_cast<unsigned char>(value)); }
std::uint8_t at(std::string_view s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

std::string port_bytes(std::uint16_t port) { return {byte(port >> 8U), byte(port & 0xffU)}; }

}  // namespace

std::string socks5_greeting(bool offer_password) {
  if (offer_password) return {byte(version), byte(2), byte(socks5_method_none), byte(socks5_method_password)};
  return {byte(version), byte(1), byte(socks5_method_none)};
}

parse_result parse_socks5_method_reply(std::string_view received, bool offered_password, std::uint8_t& chosen) {
  if (received.empty()) return parse_result::need_more();
  if (at(received, 0) != version) {
    return parse_result::failed(
        fmt::format("socks5: not a SOCKS5 server (version {} in method reply)", at(received, 0)));
  }
  if (received.size() < 2) return parse_result::need_more();
  auto method = at(received, 1);
  if (method == 0xff) {
    return parse_result::failed(offered_password ? "socks5: server accepts none of our authentication methods"
                                                 : "socks5: server requires authentication, none configured");
  }
  if (method != socks5_method_none && !(offered_password && method == socks5_method_password)) {
    return parse_result::failed(fmt::format("socks5: server chose authentication method {} we did not offer", method));
  }
  chosen = method;
  return parse_result::done(2);
}

std::string socks5_password_request(std::string_view username, std::string_view password) {
  std::string out;
  out.reserve(3 + username.size() + password.size());
  out += byte(0x01);  // RFC 1929 sub-negotiation version
  out += byte(static_cast<unsigned>(std::min<std::size_t>(username.size(), 255)));
  out += username.substr(0, 255);
  out += byte(static_cast<unsigned>(std::min<std::size_t>(password.size(), 255)));
  out += password.substr(0, 255);
  return out;
}

parse_result parse_socks5_password_reply(std::string_view received) {
  if (received.empty()) return parse_result::need_more();
  // RFC 1929 says version 1; some servers answer with the SOCKS version 5 here, and the status
  // byte means the same in both.
  if (at(received, 0) != 0x01 && at(received, 0) != version) {
    return parse_result::failed(fmt::format("socks5: malformed authentication reply (version {})", at(received, 0)));
  }
  if (received.size() < 2) return parse_result::need_more();
  if (at(received, 1) != 0x00) {
    return parse_result::failed(
        fmt::format("socks5: authentication failed, wrong username or password (status={})", at(received, 1)));
  }
  return parse_result::done(2);
}

std::string socks5_connect_request(const boost::asio::ip::tcp::endpoint& target) {
  std::string out{byte(version), byte(0x01), byte(0x00)};
  auto address = net::unmap(target.address());
  if (address.is_v4()) {
    out += byte(0x01);
    for (auto b : address.to_v4().to_bytes()) out += byte(b);
  } else {
    out += byte(0x04);
    for (auto b : address.to_v6().to_bytes()) out += byte(b);
  }
  return out + port_bytes(target.port());
}

std::string socks5_connect_request(std::string_view host, std::uint16_t port) {
  host = host.substr(0, 255);
  std::string out{byte(version), byte(0x01), byte(0x00), byte(0x03), byte(static_cast<unsigned>(host.size()))};
  out += host;
  return out + port_bytes(port);
}

std::string_view socks5_reply_text(std::uint8_t rep) {
  switch (rep) {
    case 0x00:
      return "succeeded";
    case 0x01:
      return "general SOCKS server failure";
    case 0x02:
      return "connection not allowed by ruleset";
    case 0x03:
      return "network unreachable";
    case 0x04:
      return "host unreachable";
    case 0x05:
      return "connection refused by destination";
    case 0x06:
      return "TTL expired";
    case 0x07:
      return "command not supported";
    case 0x08:
      return "address type not supported";
    default:
      return "unassigned reply code";
  }
}

parse_result parse_socks5_connect_reply(std::string_view received) {
  if (received.empty()) return parse_result::need_more();
  if (at(received, 0) != version) {
    return parse_result::failed(fmt::format("socks5: malformed connect reply (version {})", at(received, 0)));
  }
  if (received.size() < 2) return parse_result::need_more();
  auto rep = at(received, 1);
  if (rep != 0x00) return parse_result::failed(fmt::format("socks5: {} (rep={})", socks5_reply_text(rep), rep));
  if (received.size() < 5) return parse_result::need_more();
  // RSV (byte 2) is ignored: servers put junk there and it carries nothing.
  std::size_t address_length = 0;
  switch (at(received, 3)) {
    case 0x01:
      address_length = 4;
      break;
    case 0x04:
      address_length = 16;
      break;
    case 0x03:
      address_length = 1U + at(received, 4);
      if (at(received, 4) == 0) return parse_result::failed("socks5: malformed connect reply (empty domain name)");
      break;
    default:
      return parse_result::failed(fmt::format("socks5: malformed connect reply (address type {})", at(received, 3)));
  }
  std::size_t total = 4 + address_length + 2;
  if (received.size() < total) return parse_result::need_more();
  return parse_result::done(total);
}

}  // namespace detour::upstream
