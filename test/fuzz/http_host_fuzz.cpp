// Feeds arbitrary client bytes to the HTTP/1 Host sniffer and checks its contract
// (sniff_invariants.hpp). Input: two bytes of split point, then the stream.
#include "detour/sniff/http_host.hpp"
#include "detour/sniff/sniffer.hpp"
#include "sniff_invariants.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sniff = detour::sniff;
  if (size < 2) return 0;
  std::size_t split = std::size_t{data[0]} << 8U | data[1];
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  auto whole = sniff::fuzz::check_stream(stream, split, sniff::http_sniff_bound, sniff::sniff_http_host);
  if (!stream.empty() && stream[0] != '\x16') sniff::fuzz::check_dispatched(stream, whole);
  return 0;
}
