#pragma once
// Deadlines for poll(2), and the one polling loop the tests allow themselves.
#include <chrono>
#include <functional>
#include <thread>

namespace detour::test {

using test_clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Milliseconds left until `deadline`, for poll(): 0 once it has passed.
inline int remaining_ms(test_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - test_clock::now()).count();
  return left > 0 ? static_cast<int>(left) + 1 : 0;
}

// True once `condition` holds; false if it has not within `timeout`. It looks every 10 ms: the one
// accepted exception to "no sleeps in tests", for what only an external program or the kernel can
// tell and neither signals (a proxy's log file, a listening socket in /proc/net/tcp, an IPv6
// address leaving addrconf's work queue). Everything detourd does is awaited on a descriptor.
inline bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = test_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (test_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace detour::test
