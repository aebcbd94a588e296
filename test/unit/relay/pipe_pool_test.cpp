#include "detour/relay/pipe_pool.hpp"

#include "fake_pipe_kernel.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using detour::relay::pipe_pool;
using detour::test::fake_pipe_kernel;

TEST_CASE("a pipe the kernel lets grow has the size asked for and is kept once empty", "[relay]") {
  fake_pipe_kernel kernel;
  pipe_pool pool(256 * 1024, 4, kernel);
  auto p = pool.acquire();
  REQUIRE(p.read_fd >= 0);
  CHECK(p.size == 256 * 1024);
  CHECK(pool.in_use().get() == 1);
  CHECK(pool.bytes().get() == 256 * 1024);
  CHECK(pool.shrunk().get() == 0);
  pool.release(p);
  CHECK(pool.in_use().get() == 0);
  CHECK(pool.idle() == 1);
  CHECK(pool.bytes().get() == 256 * 1024);  // idle pipes are held too
  auto again = pool.acquire();
  CHECK(again.read_fd == p.read_fd);
  pool.release(again);
}

TEST_CASE("a pipe F_SETPIPE_SZ could not grow reports the size the kernel left it at", "[relay]") {
  fake_pipe_kernel kernel;
  kernel.max_size = 64 * 1024;
  kernel.refused_size = 8192;
  pipe_pool pool(256 * 1024, 4, kernel);
  auto p = pool.acquire();
  REQUIRE(p.read_fd >= 0);
  CHECK(p.size == 8192);
  CHECK(pool.shrunk().get() == 1);
  CHECK(pool.bytes().get() == 8192);

  SECTION("it is closed once empty while it still cannot grow, freeing the user's pages") {
    pool.release(p);
    CHECK(pool.idle() == 0);
    CHECK(kernel.open.empty());
    CHECK(pool.bytes().get() == 0);
  }
  SECTION("it is kept at full size once empty when it can grow by then") {
    kernel.max_size = 1 << 20;
    pool.release(p);
    CHECK(pool.idle() == 1);
    CHECK(pool.bytes().get() == 256 * 1024);
    auto again = pool.acquire();
    CHECK(again.size == 256 * 1024);
    pool.release(again);
  }
  SECTION("one that holds bytes nobody will read is closed") {
    pool.discard(p);
    CHECK(kernel.open.empty());
    CHECK(pool.in_use().get() == 0);
    CHECK(pool.bytes().get() == 0);
  }
}

TEST_CASE("when pipe2 fails the pool gives no pipe, with pipe2's errno, and counts it", "[relay]") {
  fake_pipe_kernel kernel;
  pipe_pool pool(256 * 1024, 4, kernel);
  auto held = pool.acquire();
  kernel.create_error = EMFILE;
  errno = 0;
  auto p = pool.acquire();
  CHECK(errno == EMFILE);
  CHECK(p.read_fd < 0);
  CHECK(p.write_fd < 0);
  CHECK(pool.refused().get() == 1);
  CHECK(pool.in_use().get() == 1);
  // A pipe given back is there for the next direction even while the kernel refuses new ones.
  pool.release(held);
  CHECK(pool.acquire().read_fd == held.read_fd);
}

TEST_CASE("the pool keeps at most max_idle empty pipes and closes the rest", "[relay]") {
  fake_pipe_kernel kernel;
  kernel.refused_size = 65536;
  {
    pipe_pool pool(0, 2, kernel);
    auto a = pool.acquire();
    auto b = pool.acquire();
    auto c = pool.acquire();
    CHECK(a.size == 65536);  // the kernel's default, when no size was asked for
    pool.release(a);
    pool.release(b);
    pool.release(c);
    CHECK(pool.idle() == 2);
    CHECK(kernel.open.size() == 4);
    CHECK(pool.bytes().get() == 2 * 65536);
  }
  CHECK(kernel.open.empty());  // and closes those when it goes
}
