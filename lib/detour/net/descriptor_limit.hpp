#pragma once
#include <cstdint>
#include <string>

namespace detour::net {

// RLIMIT_NOFILE as detourd found it and left it. Each relayed connection holds two sockets, and a
// pipe pair while bytes are in flight; the soft limit most init systems hand out (1024) caps a
// busy proxy at a few hundred connections, while the hard limit is usually far higher.
struct descriptor_limit {
  std::uint64_t soft_before = 0;
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// Raises the soft limit to the hard one (an unprivileged process may) and says what it did.
descriptor_limit raise_descriptor_limit();

// "detourd: descriptors: RLIMIT_NOFILE soft 1024 raised to 524288 (hard 524288)", or
// "... soft 1024 = hard" when there was nothing to raise.
std::string describe(const descriptor_limit& limit);

// The soft RLIMIT_NOFILE now; what the accept and upstream warnings quote.
std::uint64_t soft_descriptor_limit();

}  // namespace detour::net
