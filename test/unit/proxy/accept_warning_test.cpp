#include "detour/proxy/listener.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using detour::proxy::accept_warning;

TEST_CASE("an accept out of descriptors names the limit and how to raise it", "[proxy]") {
  CHECK(accept_warning(EMFILE, 128) ==
        "listener: accept: Too many open files (RLIMIT_NOFILE 128): raise LimitNOFILE= (ulimit -n) or lower "
        "limits.max_connections; backing off, new connections wait in the backlog");
  CHECK_THAT(accept_warning(ENFILE, 128), Catch::StartsWith("listener: accept: Too many open files in system (the "
                                                            "system's file table, fs.file-max): raise fs.file-max"));
  CHECK_THAT(accept_warning(ENOBUFS, 128),
             Catch::StartsWith("listener: accept: No buffer space available (kernel memory)"));
}
