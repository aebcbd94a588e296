#pragma once
// The contract every name sniffer keeps, checked by the sniffer fuzz targets: a verdict depends
// only on the bytes it was given, not on how they were split into calls; `wanted` is a promise
// that no shorter stream gives another answer; nothing needs more than the bound; a found name is
// already in normal form. A broken promise traps, which libFuzzer reports with the input.
#include "detour/sniff/host_name.hpp"
#include "detour/sniff/sniff_result.hpp"
#include "detour/sniff/sniffer.hpp"

#include <cstddef>
#include <string_view>

namespace detour::sniff::fuzz {

inline void require(bool condition) {
  if (!condition) __builtin_trap();
}

inline bool same(const sniff_result& a, const sniff_result& b) {
  return a.status == b.status && a.proto == b.proto && a.name == b.name && a.ech == b.ech && a.detail == b.detail;
}

// What must hold for any one answer to a stream of `seen` bytes.
inline void check_answer(const sniff_result& r, std::size_t seen, std::size_t bound) {
  switch (r.status) {
    case sniff_status::need_more:
      require(seen < bound && r.wanted > seen && r.wanted <= bound);
      require(r.name.empty() && r.detail.empty() && !r.ech);
      break;
    case sniff_status::found:
      require(!r.name.empty() && r.detail.empty() && r.proto != protocol::none);
      require(normalize_host_name(r.name) == r.name);
      break;
    case sniff_status::not_recognized:
      require(r.proto == protocol::none && r.name.empty() && !r.detail.empty());
      break;
    default:
      require(r.proto != protocol::none && r.name.empty() && !r.detail.empty());
  }
  require(!r.ech || r.proto == protocol::tls);
}

// Asks as a caller waiting with SO_RCVLOWAT would (0 bytes, then `wanted` each time), and at an
// arbitrary split point, and checks every answer against the one for the whole stream.
template <typename Sniff>
sniff_result check_stream(std::string_view stream, std::size_t split, std::size_t bound, Sniff sniff) {
  auto whole = sniff(stream);
  check_answer(whole, stream.size(), bound);
  split %= stream.size() + 1;
  bool split_checked = false;
  // A caller's waits are bounded by the segments it receives; 64 keeps a 1-byte-record stream from
  // costing the fuzzer thousands of whole parses per input.
  for (std::size_t seen = 0, steps = 0; steps < 64; ++steps) {
    auto r = sniff(stream.substr(0, seen));
    check_answer(r, seen, bound);
    if (r.status != sniff_status::need_more) {
      require(same(r, whole));
      break;
    }
    // Between here and `wanted` nothing may change, the split point included when it falls there.
    auto last_unchanged = std::min(r.wanted - 1, stream.size());
    if (last_unchanged > seen) require(sniff(stream.substr(0, last_unchanged)).status == sniff_status::need_more);
    if (split >= seen && split < r.wanted) {
      require(sniff(stream.substr(0, split)).status == sniff_status::need_more);
      split_checked = true;
    }
    if (r.wanted > stream.size()) {
      require(whole.status == sniff_status::need_more);
      break;
    }
    seen = r.wanted;
  }
  if (!split_checked) {
    auto early = sniff(stream.substr(0, split));
    require(early.status == sniff_status::need_more || same(early, whole));
  }
  return whole;
}

// The dispatcher (sniff_name) answers as the protocol's own sniffer did, but for the wording of
// not_recognized, which it makes its own.
inline void check_dispatched(std::string_view stream, const sniff_result& whole) {
  auto dispatched = sniff_name(stream);
  if (whole.status == sniff_status::not_recognized) {
    require(dispatched.status == whole.status);
  } else {
    require(same(dispatched, whole));
  }
}

}  // namespace detour::sniff::fuzz
