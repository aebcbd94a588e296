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

namespace {

std::optional<std::uint64_t> admit(exhausted what) {
  static std::array<warning_limiter, exhausted_kinds> limiters;
  return limiters.at(static_cast<std::size_t>(what)).admit(warning_limiter::clock::now());
}

}  // namespace

void warn_exhausted(exhausted what, std::string_view text) {
  if (auto admitted = admit(what)) spdlog::warn("{}", with_suppressed(text, *admitted));
}

void warn_exhausted(exhausted what, const std::function<std::string()>& describe) {
  if (auto admitted = admit(what)) spdlog::warn("{}", with_suppressed(describe(), *admitted));
}

}  // namespace detour::net
