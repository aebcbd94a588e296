#include "detour/net/descriptor_limit.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

using detour::net::describe;
using detour::net::descriptor_limit;

TEST_CASE("the descriptor limit's log line says what was raised, or that nothing had to be", "[net]") {
  CHECK(describe({1024, 524288, 524288}) ==
        "detourd: descriptors: RLIMIT_NOFILE soft 1024 raised to 524288 (hard 524288)");
  CHECK(describe({128, 128, 128}) == "detourd: descriptors: RLIMIT_NOFILE soft 128 = hard");
  CHECK(describe({1024, 1024, 4096}) ==
        "detourd: descriptors: RLIMIT_NOFILE soft 1024 could not be raised (hard 4096)");
  CHECK(describe({1024, RLIM_INFINITY, RLIM_INFINITY}) ==
        "detourd: descriptors: RLIMIT_NOFILE soft 1024 raised to unlimited (hard unlimited)");
}

TEST_CASE("raising the descriptor limit leaves the soft limit at the hard one", "[net]") {
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Lowered first, so there is something to raise; the hard limit stays, so this can be undone.
  rlimit lowered = saved;
  lowered.rlim_cur = std::min<rlim_t>(saved.rlim_max, 256);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  auto limit = detour::net::raise_descriptor_limit();
  CHECK(limit.soft_before == lowered.rlim_cur);
  CHECK(limit.soft == saved.rlim_max);
  CHECK(limit.hard == saved.rlim_max);
  CHECK(detour::net::soft_descriptor_limit() == saved.rlim_max);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
}
