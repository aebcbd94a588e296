// Feeds arbitrary proxy bytes to the CONNECT response parser as they might arrive (whole, and split
// at a point the input chooses) and traps when the parser breaks its contract: the verdict does not
// depend on how the bytes were split, `consumed` stays within what was received, and no answer
// needs more than http_max_response_head bytes to get a verdict.
#include "detour/upstream/http_connect.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using detour::upstream::parse_http_connect_response;
  using detour::upstream::parse_result;
  if (size < 2) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::size_t split = (std::size_t{data[0]} << 8U | data[1]) % (input.size() + 1);

  auto whole = parse_http_connect_response(input);
  if (whole.is_done() && (whole.consumed > input.size() || whole.consumed == 0)) __builtin_trap();
  if (whole.is_error() && whole.error.empty()) __builtin_trap();
  if (whole.status == parse_result::state::need_more && input.size() >= detour::upstream::http_max_response_head) {
    __builtin_trap();
  }
  // A verdict on a prefix must be the verdict on the whole.
  auto early = parse_http_connect_response(input.substr(0, split));
  if (early.status != parse_result::state::need_more &&
      (early.status != whole.status || early.consumed != whole.consumed || early.error != whole.error)) {
    __builtin_trap();
  }
  return 0;
}
