#include "detour/sniff/http_host.hpp"

#include "detour/sniff/host_name.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace detour::sniff {
namespace {

constexpr std::array<std::string_view, 9> methods = {"GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                                     "OPTIONS", "PATCH", "CONNECT", "TRACE"};
constexpr std::string_view version_prefix = "HTTP/1.";

sniff_result verdict(sniff_status status, std::string_view detail) {
  return {.status = status, .proto = protocol::http, .detail = detail};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9110 section 5.6.2.
bool is_token_byte(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Visible ASCII and, for request targets and field values, the obs-text bytes above 0x7f that
// servers pass through; never a control byte or DEL.
bool is_visible_or_obs_text(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u > 0x20 && u < 0x7f) || u >= 0x80;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x) == y;
         });
}

// The Host value, line ending and surrounding whitespace removed: uri-host [ ":" port ].
sniff_result host_verdict(std::string_view value) {
  auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return verdict(sniff_status::no_name, "Host is empty");
  value = value.substr(first, value.find_last_not_of(" \t") + 1 - first);
  std::string_view host;
  std::string_view rest;
  if (value.starts_with('[')) {
    auto close = value.find(']');
    if (close == std::string_view::npos) return verdict(sniff_status::no_name, "Host is not a valid host name");
    host = value.substr(0, close + 1);
    rest = value.substr(close + 1);
  } else {
    auto colon = value.find(':');
    host = value.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : value.substr(colon);
  }
  // RFC 3986 section 3.2.3: port = *DIGIT, so "host:" is allowed.
  if (!rest.empty() && (rest[0] != ':' || !std::all_of(rest.begin() + 1, rest.end(), is_digit))) {
    return verdict(sniff_status::no_name, "Host is not a valid host name");
  }
  if (is_ip_literal(host)) return verdict(sniff_status::no_name, "Host is an IP address");
  auto name = normalize_host_name(host);
  if (!name) return verdict(sniff_status::no_name, "Host is not a valid host name");
  auto result = verdict(sniff_status::found, {});
  result.name = std::move(*name);
  return result;
}

}  // namespace

sniff_result sniff_http_host(std::string_view stream) {
  auto bytes = stream.substr(0, http_sniff_bound);
  auto proto = protocol::none;
  // Nothing at or past the bound is read: each step asks for the byte it needs first. Line lengths
  // are unknown until their end, so the next call can always make a difference one byte on.
  auto need = [&](std::size_t length) {
    if (length > http_sniff_bound) return verdict(sniff_status::too_long, "no Host within 8192 bytes");
    return sniff_result{.status = sniff_status::need_more, .proto = proto, .wanted = length};
  };

  // The method, one byte at a time: other protocols are told apart by the first byte that no
  // method name continues with ("SSH-", "EHLO", "\x05\x01" after one byte, "HELO" after three).
  std::size_t at = 0;
  for (;; ++at) {
    if (bytes.size() <= at) return need(at + 1);
    auto prefix = bytes.substr(0, at);
    if (bytes[at] == ' ' && std::find(methods.begin(), methods.end(), prefix) != methods.end()) break;
    auto longer = bytes.substr(0, at + 1);
    if (std::none_of(methods.begin(), methods.end(), [&](std::string_view m) { return m.starts_with(longer); })) {
      return {.status = sniff_status::not_recognized, .detail = "not an HTTP/1 request method"};
    }
  }
  proto = protocol::http;
  ++at;

  // request-target: one or more visible bytes up to the single space before the version.
  auto target = at;
  for (;; ++at) {
    if (bytes.size() <= at) return need(at + 1);
    if (bytes[at] == ' ' && at > target) break;
    if (!is_visible_or_obs_text(bytes[at])) return verdict(sniff_status::malformed, "not an HTTP/1.x request line");
  }
  ++at;
  for (std::size_t i = 0; i <= version_prefix.size(); ++i, ++at) {
    if (bytes.size() <= at) return need(at + 1);
    bool expected = i < version_prefix.size() ? bytes[at] == version_prefix[i] : is_digit(bytes[at]);
    if (!expected) return verdict(sniff_status::malformed, "not an HTTP/1.x request line");
  }

  // Moves `pos` past a line's CRLF or bare LF, or says why it cannot yet or at all.
  auto line_end = [&](std::size_t& pos) -> std::optional<sniff_result> {
    if (bytes.size() <= pos) return need(pos + 1);
    if (bytes[pos] == '\n') {
      ++pos;
      return std::nullopt;
    }
    if (bytes[pos] != '\r') return verdict(sniff_status::malformed, "not an HTTP/1.x request line");
    if (bytes.size() <= pos + 1) return need(pos + 2);
    if (bytes[pos + 1] != '\n') return verdict(sniff_status::malformed, "a CR without LF");
    pos += 2;
    return std::nullopt;
  };
  if (auto stop = line_end(at)) return *stop;

  // Header lines up to the empty one. The loop ends by the bound: each pass consumes a line.
  for (;;) {
    if (bytes.size() <= at) return need(at + 1);
    if (bytes[at] == '\r' || bytes[at] == '\n') {
      if (auto stop = line_end(at)) return *stop;
      return verdict(sniff_status::no_name, "no Host header");
    }
    // RFC 9112 section 5.2: a line starting with whitespace continues the previous one (obs-fold),
    // which a server must reject or fold; either way the previous value is not what it seemed.
    if (bytes[at] == ' ' || bytes[at] == '\t') return verdict(sniff_status::malformed, "folded header line");
    auto name_start = at;
    for (;; ++at) {
      if (bytes.size() <= at) return need(at + 1);
      if (bytes[at] == ':' && at > name_start) break;
      // Whitespace before the colon included: RFC 9112 section 5.1 says to reject it.
      if (!is_token_byte(bytes[at])) return verdict(sniff_status::malformed, "invalid header name");
    }
    auto name = bytes.substr(name_start, at - name_start);
    auto value_start = ++at;
    for (;; ++at) {
      if (bytes.size() <= at) return need(at + 1);
      char c = bytes[at];
      if (c == '\r' || c == '\n') break;
      if (c != ' ' && c != '\t' && !is_visible_or_obs_text(c)) {
        return verdict(sniff_status::malformed, "control byte in a header");
      }
    }
    auto value = bytes.substr(value_start, at - value_start);
    if (auto stop = line_end(at)) return *stop;
    if (!iequals(name, "host")) continue;
    // The verdict waits for one byte more: a fold would make the next line part of this value.
    if (bytes.size() <= at) return need(at + 1);
    if (bytes[at] == ' ' || bytes[at] == '\t') return verdict(sniff_status::malformed, "folded header line");
    return host_verdict(value);
  }
}

}  // namespace detour::sniff
