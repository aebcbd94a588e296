#include "detour/net/descriptor_limit.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

namespace detour::net {

namespace {

// RLIM_INFINITY reads as a number no one can open that many files of.
std::string limit_text(std::uint64_t value) {
  return value == RLIM_INFINITY ? std::string("unlimited") : fmt::format("{}", value);
}

}  // namespace

descriptor_limit raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  descriptor_limit out{limit.rlim_cur, limit.rlim_cur, limit.rlim_max};
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) out.soft = limit.rlim_max;
  }
  return out;
}

std::string describe(const descriptor_limit& limit) {
  if (limit.soft == limit.hard && limit.soft_before == limit.soft)
    return fmt::format("detourd: descriptors: RLIMIT_NOFILE soft {} = hard", limit_text(limit.soft));
  if (limit.soft == limit.soft_before)
    return fmt::format("detourd: descriptors: RLIMIT_NOFILE soft {} could not be raised (hard {})",
                       limit_text(limit.soft), limit_text(limit.hard));
  return fmt::format("detourd: descriptors: RLIMIT_NOFILE soft {} raised to {} (hard {})",
                     limit_text(limit.soft_before), limit_text(limit.soft), limit_text(limit.hard));
}

std::uint64_t soft_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  return limit.rlim_cur;
}

}  // namespace detour::net
