#include "detour/net/exhaustion_warning.hpp"

#include <catch2/catch.hpp>

using detour::net::warning_limiter;
using detour::net::with_suppressed;
using namespace std::chrono_literals;

TEST_CASE("an exhaustion warning is let through at most once a second, counting the ones held back", "[net]") {
  warning_limiter limiter;
  const auto t0 = warning_limiter::clock::time_point{} + 100s;
  CHECK(limiter.admit(t0) == 0U);
  CHECK_FALSE(limiter.admit(t0 + 10ms));
  CHECK_FALSE(limiter.admit(t0 + 500ms));
  CHECK_FALSE(limiter.admit(t0 + 999ms));
  CHECK(limiter.admit(t0 + 1s) == 3U);
  CHECK_FALSE(limiter.admit(t0 + 1500ms));
  // A quiet spell: the next one goes through at once, counting only what was held back since.
  CHECK(limiter.admit(t0 + 60s) == 1U);
  CHECK(limiter.admit(t0 + 120s) == 0U);
}

TEST_CASE("a warning after suppressed ones says how many there were", "[net]") {
  CHECK(with_suppressed("listener: accept: Too many open files", 0) == "listener: accept: Too many open files");
  CHECK(with_suppressed("listener: accept: Too many open files", 41) ==
        "listener: accept: Too many open files (41 more suppressed)");
}
