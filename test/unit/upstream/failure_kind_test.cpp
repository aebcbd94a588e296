#include "detour/upstream/failure_kind.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using detour::upstream::failure_kind;
using detour::upstream::kind_of_errno;

TEST_CASE("a connect's errno becomes one of a few label words", "[upstream]") {
  CHECK(kind_of_errno(ECONNREFUSED) == failure_kind::refused);
  CHECK(kind_of_errno(ETIMEDOUT) == failure_kind::timeout);
  CHECK(kind_of_errno(EHOSTUNREACH) == failure_kind::unreachable);
  CHECK(kind_of_errno(ENETUNREACH) == failure_kind::unreachable);
  CHECK(kind_of_errno(EMFILE) == failure_kind::no_descriptors);
  CHECK(kind_of_errno(ENFILE) == failure_kind::no_descriptors);
  CHECK(kind_of_errno(EADDRNOTAVAIL) == failure_kind::no_ports);
  CHECK(kind_of_errno(EADDRINUSE) == failure_kind::no_ports);
  CHECK(kind_of_errno(ENOMEM) == failure_kind::local);
  CHECK(to_string(failure_kind::no_ports) == "no local ports");
  CHECK(kind_of_errno(EPROTO) == failure_kind::other);
  CHECK(to_string(failure_kind::proxy_refused) == "proxy refused");
  CHECK(to_string(failure_kind::other) == "error");
}
