// Feeds arbitrary client bytes to the TLS ClientHello sniffer and checks its contract
// (sniff_invariants.hpp). Input: two bytes of split point, one byte of mode, then the payload.
// Mode 0 sends the payload as the stream itself, so captures work as seeds as they are. Any other
// mode wraps the payload as a ClientHello body in a correct handshake header and records of `mode`
// bytes each: random bytes rarely get the record and handshake lengths right, and without them
// the fuzzer would hardly ever reach the extensions.
#include "detour/sniff/sniffer.hpp"
#include "detour/sniff/tls_client_hello.hpp"
#include "sniff_invariants.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

std::string in_records(std::string_view body, std::size_t fragment) {
  std::string message{'\x01', static_cast<char>((body.size() >> 16U) & 0xffU),
                      static_cast<char>((body.size() >> 8U) & 0xffU), static_cast<char>(body.size() & 0xffU)};
  message += body;
  std::string out;
  for (std::size_t at = 0; at < message.size(); at += fragment) {
    auto size = std::min(fragment, message.size() - at);
    out += {'\x16', '\x03', '\x01', static_cast<char>(size >> 8U), static_cast<char>(size & 0xffU)};
    out += message.substr(at, size);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sniff = detour::sniff;
  if (size < 3) return 0;
  std::size_t split = std::size_t{data[0]} << 8U | data[1];
  std::size_t mode = data[2];
  std::string_view payload(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::string stream = mode == 0 ? std::string(payload) : in_records(payload, mode);

  auto whole = sniff::fuzz::check_stream(stream, split, sniff::tls_sniff_bound, sniff::sniff_tls_client_hello);
  if (!stream.empty() && stream[0] == '\x16') sniff::fuzz::check_dispatched(stream, whole);
  return 0;
}
