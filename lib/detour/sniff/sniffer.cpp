#include "detour/sniff/sniffer.hpp"

namespace detour::sniff {
namespace {

constexpr unsigned char tls_handshake_record = 0x16;

}  // namespace

sniff_result sniff_name(std::string_view first_bytes) {
  if (first_bytes.empty()) return {.status = sniff_status::need_more, .wanted = 1};
  auto result = static_cast<unsigned char>(first_bytes[0]) == tls_handshake_record ? sniff_tls_client_hello(first_bytes)
                                                                                   : sniff_http_host(first_bytes);
  if (result.status == sniff_status::not_recognized) result.detail = "neither a TLS ClientHello nor an HTTP/1 request";
  return result;
}

std::string_view to_string(sniff_status status) {
  switch (status) {
    case sniff_status::need_more:
      return "need_more";
    case sniff_status::found:
      return "found";
    case sniff_status::no_name:
      return "no_name";
    case sniff_status::malformed:
      return "malformed";
    case sniff_status::too_long:
      return "too_long";
    case sniff_status::not_recognized:
      return "not_recognized";
  }
  return "unknown";
}

std::string_view to_string(protocol proto) {
  switch (proto) {
    case protocol::none:
      return "none";
    case protocol::tls:
      return "tls";
    case protocol::http:
      return "http";
  }
  return "unknown";
}

}  // namespace detour::sniff
