#include "detour/net/exhaustion_warning.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>

namespace detour::net {

std::optional<std::uint64_t> warning_limiter::admit(clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  return std::exchange(suppressed_, 0);
}

std::string with_suppressed(std::string_view text, std::uint64_t suppressed) {
  if (suppressed == 0) return std::string(text);
  return fmt::format("{} ({} more suppressed)", text, suppressed);
}

void warn_exhausted(exhausted what, std::string_view text) {
  static std::array<warning_limiter, 4> limiters;
  auto admitted = limiters.at(static_cast<std::size_t>(what)).admit(warning_limiter::clock::now());
  if (admitted) spdlog::warn("{}", with_suppressed(text, *admitted));
}

}  // namespace detour::net
