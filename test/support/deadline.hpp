#pragma once
// Small pieces shared by the test support: errno as an exception, and deadlines for poll(2).
#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

namespace detour::test {

using test_clock = std::chrono::steady_clock;

[[noreturn]] inline void throw_errno(std::string_view what, int e = errno) {
  throw std::system_error(e, std::generic_category(), std::string(what));
}

// Milliseconds left until `deadline`, for poll(): 0 once it has passed.
inline int remaining_ms(test_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - test_clock::now()).count();
  return left > 0 ? static_cast<int>(left) + 1 : 0;
}

}  // namespace detour::test
