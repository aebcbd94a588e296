// Feeds arbitrary server bytes to every SOCKS5 reply parser, prefix by prefix as they would arrive,
// and traps when the parsers break their contract: a verdict, once given, must not change as more
// bytes arrive, `consumed` never exceeds what was received, and no reply needs more than its bound.
#include "detour/upstream/socks5.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

using detour::upstream::parse_result;

template <typename Parse>
void check_incremental(std::string_view data, std::size_t bound, Parse parse) {
  parse_result first_verdict;
  std::size_t verdict_at = 0;
  for (std::size_t n = 0; n <= data.size(); ++n) {
    auto r = parse(data.substr(0, n));
    if (r.status == parse_result::state::need_more) {
      if (first_verdict.status != parse_result::state::need_more || n > bound) __builtin_trap();
      continue;
    }
    if (r.is_done() && (r.consumed > n || r.consumed == 0)) __builtin_trap();
    if (r.is_error() && r.error.empty()) __builtin_trap();
    if (first_verdict.status == parse_result::state::need_more) {
      first_verdict = r;
      verdict_at = n;
    } else if (r.status != first_verdict.status || r.consumed != first_verdict.consumed ||
               r.error != first_verdict.error) {
      __builtin_trap();
    }
  }
  (void)verdict_at;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Every reply is decided within its first 262 bytes; longer inputs would only slow the
  // prefix-by-prefix check down, which is quadratic.
  std::string_view input(reinterpret_cast<const char*>(data) + 1, std::min<std::size_t>(size - 1, 600));
  bool offered = (data[0] & 1U) != 0;
  std::uint8_t chosen = 0;
  check_incremental(
      input, 2, [&](std::string_view s) { return detour::upstream::parse_socks5_method_reply(s, offered, chosen); });
  check_incremental(input, 2, [](std::string_view s) { return detour::upstream::parse_socks5_password_reply(s); });
  check_incremental(input, 262, [](std::string_view s) { return detour::upstream::parse_socks5_connect_reply(s); });
  return 0;
}
