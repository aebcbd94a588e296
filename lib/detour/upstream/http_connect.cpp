#include "detour/upstream/http_connect.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace detour::upstream {
namespace {

std::string_view reason_for(unsigned status) {
  switch (status) {
    case 400:
      return "bad request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 407:
      return "proxy authentication required";
    case 408:
      return "request timeout";
    case 429:
      return "too many requests";
    case 500:
      return "internal server error";
    case 501:
      return "not implemented";
    case 502:
      return "bad gateway";
    case 503:
      return "service unavailable";
    case 504:
      return "gateway timeout";
    default:
      return {};
  }
}

// The server's own words for codes we do not know, made safe for a log line.
std::string sanitized_reason(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

}  // namespace

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U;
    if (i + 1 < bytes.size()) group |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
    if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(group >> 18U) & 63U];
    out += alphabet[(group >> 12U) & 63U];
    out += i + 1 < bytes.size() ? alphabet[(group >> 6U) & 63U] : '=';
    out += i + 2 < bytes.size() ? alphabet[group & 63U] : '=';
  }
  return out;
}

std::string http_connect_request(std::string_view host, std::uint16_t port, std::string_view username,
                                 std::string_view password) {
  bool v6 = host.find(':') != std::string_view::npos;
  auto authority = v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  auto out = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", authority);
  if (!username.empty()) {
    out += fmt::format("Proxy-Authorization: Basic {}\r\n", base64(fmt::format("{}:{}", username, password)));
  }
  return out + "\r\n";
}

std::string http_connect_request(const boost::asio::ip::tcp::endpoint& target, std::string_view username,
                                 std::string_view password) {
  return http_connect_request(net::unmap(target.address()).to_string(), target.port(), username, password);
}

parse_result parse_http_connect_response(std::string_view received) {
  static constexpr std::string_view prefix = "HTTP/1.";
  auto compared = std::min(received.size(), prefix.size());
  if (received.substr(0, compared) != prefix.substr(0, compared)) {
    return parse_result::failed("http: not an HTTP response from the proxy");
  }
  auto window = received.substr(0, http_max_response_head);
  auto line_end = window.find('\n');
  if (line_end == std::string_view::npos) {
    if (received.size() >= http_max_response_head) {
      return parse_result::failed(fmt::format("http: response head longer than {} bytes", http_max_response_head));
    }
    return parse_result::need_more();
  }
  // "HTTP/1.1 200 Connection established": version digit, space, three digits, then space or end.
  auto line = window.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool well_formed = line.size() >= 12 && (line[7] == '0' || line[7] == '1') && line[8] == ' ' &&
                     std::all_of(line.begin() + 9, line.begin() + 12, [](char c) { return c >= '0' && c <= '9'; }) &&
                     (line.size() == 12 || line[12] == ' ');
  if (!well_formed) return parse_result::failed("http: malformed status line from the proxy");
  auto status = static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (status < 200 || status > 299) {
    auto reason = reason_for(status);
    std::string text = reason.empty() ? sanitized_reason(line.size() > 13 ? line.substr(13) : "") : std::string(reason);
    return parse_result::failed(text.empty() ? fmt::format("http: {}", status)
                                             : fmt::format("http: {} {}", status, text));
  }
  // The head ends with an empty line; bare LF line ends are tolerated as RFC 9112 allows.
  for (auto pos = line_end; pos < window.size(); ++pos) {
    if (window[pos] != '\n') continue;
    auto next = pos + 1;
    if (next < window.size() && window[next] == '\n') return parse_result::done(next + 1);
    if (next + 1 < window.size() && window[next] == '\r' && window[next + 1] == '\n')
      return parse_result::done(next + 2);
  }
  if (received.size() >= http_max_response_head) {
    return parse_result::failed(fmt::format("http: response head longer than {} bytes", http_max_response_head));
  }
  return parse_result::need_more();
}

}  // namespace detour::upstream
