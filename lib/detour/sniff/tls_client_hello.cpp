#include "detour/sniff/tls_client_hello.hpp"

#include "detour/sniff/host_name.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace detour::sniff {
namespace {

constexpr std::size_t record_header_size = 5;
constexpr std::size_t handshake_header_size = 4;
// RFC 8446 section 5.1: a plaintext record's fragment is at most 2^14 bytes.
constexpr std::size_t max_record_length = std::size_t{1} << 14U;
constexpr std::uint8_t content_type_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint16_t extension_encrypted_client_hello = 0xfe0d;
constexpr std::uint8_t name_type_host_name = 0;

sniff_result verdict(sniff_status status, std::string_view detail) {
  return {.status = status, .proto = protocol::tls, .detail = detail};
}

std::uint8_t byte_at(std::string_view bytes, std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); }

// A cursor over the ClientHello body that turns every short read into a failed state instead of a
// read past the end, so the parse below checks `ok()` once per structure rather than per field.
class reader {
 public:
  explicit reader(std::string_view bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == bytes_.size(); }

  std::uint16_t u16() {
    auto two = take(2);
    return two.size() == 2 ? static_cast<std::uint16_t>(byte_at(two, 0) << 8U | byte_at(two, 1)) : 0;
  }
  std::uint8_t u8() {
    auto one = take(1);
    return one.size() == 1 ? byte_at(one, 0) : 0;
  }
  // A vector with a one- or two-byte length in front, as TLS's presentation language writes them.
  std::string_view vector8() { return take(u8()); }
  std::string_view vector16() { return take(u16()); }
  std::string_view take(std::size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// The ClientHello body, after its four-byte handshake header, complete.
sniff_result parse_client_hello(std::string_view body) {
  reader in(body);
  in.take(2 + 32);  // legacy_version, random
  auto session_id = in.vector8();
  auto cipher_suites = in.vector16();
  auto compression_methods = in.vector8();
  if (!in.ok() || session_id.size() > 32 || cipher_suites.empty() || cipher_suites.size() % 2 != 0 ||
      compression_methods.empty()) {
    return verdict(sniff_status::malformed, "ClientHello fields do not add up");
  }
  // Before TLS 1.3 the extensions block may be absent altogether.
  if (in.at_end()) return verdict(sniff_status::no_name, "ClientHello without extensions");
  reader extensions(in.vector16());
  if (!in.ok() || !in.at_end()) return verdict(sniff_status::malformed, "ClientHello extensions do not add up");

  bool ech = false;
  bool has_server_name = false;
  std::string_view host;
  while (!extensions.at_end()) {
    auto type = extensions.u16();
    auto data = extensions.vector16();
    if (!extensions.ok()) return verdict(sniff_status::malformed, "ClientHello extensions do not add up");
    if (type == extension_encrypted_client_hello) {
      // RFC 8446 section 4.2: no extension type may appear twice.
      if (ech) return verdict(sniff_status::malformed, "encrypted_client_hello extension twice");
      ech = true;
    } else if (type == extension_server_name) {
      if (has_server_name) return verdict(sniff_status::malformed, "server_name extension twice");
      has_server_name = true;
      // RFC 6066 allows a list, but no client sends more than one entry and OpenSSL, among others,
      // refuses any other count, so that is what is accepted here.
      reader list(data);
      reader entry(list.vector16());
      auto name_type = entry.u8();
      auto name = entry.vector16();
      if (!list.ok() || !list.at_end() || !entry.ok() || !entry.at_end() || name.empty()) {
        return verdict(sniff_status::malformed, "server_name extension is not one name");
      }
      if (name_type == name_type_host_name) host = name;
    }
  }

  auto result = verdict(sniff_status::no_name, {});
  result.ech = ech;
  if (!has_server_name) {
    result.detail = "no server_name extension";
  } else if (host.empty()) {
    result.detail = "server_name is not of type host_name";
  } else if (is_ip_literal(host)) {
    result.detail = "server_name is an IP address";
  } else if (auto normalized = normalize_host_name(host)) {
    result.status = sniff_status::found;
    result.name = std::move(*normalized);
  } else {
    result.detail = "server_name is not a valid host name";
  }
  return result;
}

}  // namespace

sniff_result sniff_tls_client_hello(std::string_view stream) {
  // Nothing at or past the bound is ever read: every step below first asks for the bytes it needs,
  // and a step that needs more than the bound ends the sniff.
  auto bytes = stream.substr(0, tls_sniff_bound);
  auto proto = protocol::none;
  auto need = [&](std::size_t length) {
    if (length > tls_sniff_bound) {
      return verdict(sniff_status::too_long, "ClientHello does not end within 16384 bytes");
    }
    return sniff_result{.status = sniff_status::need_more, .proto = proto, .wanted = length};
  };

  std::size_t record = 0;           // stream offset of the current record's header
  std::size_t handshake_seen = 0;   // handshake bytes before `at`, header included
  std::size_t handshake_total = 0;  // header and body, once the header is in
  std::array<std::uint8_t, handshake_header_size> handshake_header{};
  // A record is at least six bytes, so the bound also bounds this loop (at most 2731 records).
  for (std::size_t index = 0;; ++index) {
    // The first three header bytes one at a time, so that a stream that is not TLS is turned away
    // after the byte that shows it rather than after five.
    for (std::size_t i = 0; i < 3; ++i) {
      if (bytes.size() <= record + i) return need(record + i + 1);
      auto b = byte_at(bytes, record + i);
      bool expected = i == 0 ? b == content_type_handshake : i == 1 ? b == 3 : b <= 4;
      if (expected) continue;
      if (index == 0) return {.status = sniff_status::not_recognized, .detail = "not a TLS handshake record"};
      return verdict(sniff_status::malformed, "a record other than a handshake inside the ClientHello");
    }
    proto = protocol::tls;
    if (bytes.size() < record + record_header_size) return need(record + record_header_size);
    std::size_t length = std::size_t{byte_at(bytes, record + 3)} << 8U | byte_at(bytes, record + 4);
    // RFC 8446 section 5.1: no empty handshake fragments, none over 2^14 bytes.
    if (length == 0 || length > max_record_length) {
      return verdict(sniff_status::malformed, "TLS record length out of range");
    }
    auto body = record + record_header_size;
    auto end = body + length;

    // The handshake header may itself be split over records.
    auto at = body;
    for (; handshake_seen < handshake_header_size && at < end; ++at) {
      if (bytes.size() <= at) return need(at + 1);
      handshake_header.at(handshake_seen++) = byte_at(bytes, at);
      if (handshake_seen == 1 && handshake_header[0] != handshake_client_hello) {
        return verdict(sniff_status::malformed, "first handshake message is not a ClientHello");
      }
      if (handshake_seen == handshake_header_size) {
        handshake_total = handshake_header_size + (std::size_t{handshake_header[1]} << 16U |
                                                   std::size_t{handshake_header[2]} << 8U | handshake_header[3]);
      }
    }
    if (handshake_total == 0) {  // the header continues in the next record
      record = end;
      continue;
    }

    auto missing = handshake_total - handshake_seen;
    bool continues = missing > end - at;
    // The earliest the ClientHello can end: here, or one more record header on if it continues.
    // Past the bound, that is known now, without waiting for the bytes.
    auto earliest_end = at + missing + (continues ? record_header_size : 0);
    if (earliest_end > tls_sniff_bound) return need(earliest_end);
    if (continues) {
      if (bytes.size() < end) return need(end);
      handshake_seen += end - at;
      record = end;
      continue;
    }
    auto hello_end = at + missing;
    if (bytes.size() < hello_end) return need(hello_end);

    if (index == 0) return parse_client_hello(bytes.substr(at, missing));
    // Fragmented: join the pieces, walking the records again (all checked above).
    std::string joined;
    joined.reserve(handshake_total);
    for (std::size_t at_record = 0; joined.size() < handshake_total;) {
      std::size_t piece_length = std::size_t{byte_at(bytes, at_record + 3)} << 8U | byte_at(bytes, at_record + 4);
      auto take = std::min(piece_length, handshake_total - joined.size());
      joined.append(bytes.substr(at_record + record_header_size, take));
      at_record += record_header_size + piece_length;
    }
    return parse_client_hello(std::string_view(joined).substr(handshake_header_size));
  }
}

}  // namespace detour::sniff
