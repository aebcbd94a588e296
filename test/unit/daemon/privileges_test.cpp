// drop_privileges refuses before changing anything when a second thread exists: capabilities are
// per thread, and that thread would keep every one of them.
#include "detour/daemon/privileges.hpp"

#include "detour/daemon/startup_error.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

TEST_CASE("privileges are not dropped while a second thread runs, which would keep them all", "[privileges]") {
  std::promise<void> release;
  std::thread second([done = release.get_future()]() mutable { done.wait(); });
  const detour::run_as_config nobody{"nobody", 65534, "nogroup", 65534};
  CHECK_THROWS_AS(detour::daemon::drop_privileges(nobody, false), detour::daemon::startup_error);
  CHECK_THROWS_WITH(detour::daemon::drop_privileges(nobody, false),
                    "user: nobody: cannot drop privileges with 2 threads running: capabilities are per thread, and "
                    "the others would keep theirs");
  release.set_value();
  second.join();
}
