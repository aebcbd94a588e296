// The watchdog's view of the workers: every event loop ticks while it turns, and one that is
// stuck (here: blocked by work posted to it) stops ticking, which is what stops the pings.
#include "support/deadline.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include "detour/daemon/watchdog.hpp"
#include "detour/proxy/snapshot.hpp"
#include "detour/proxy/worker.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <vector>

using namespace detour;
using namespace std::chrono_literals;

TEST_CASE("a worker whose event loop is blocked is reported stuck, and live again once it turns", "[watchdog]") {
  test::enter_new_netns();
  config cfg;
  cfg.idle_timeout = 1s;  // a tick every 100 ms
  auto snapshot = proxy::make_snapshot(cfg);
  std::vector<std::unique_ptr<proxy::worker>> workers;
  for (unsigned i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<proxy::worker>(i, 2, snapshot));
    workers.back()->listen(test::at("127.0.0.1", 0));
    workers.back()->start();
  }
  std::vector<const proxy::worker*> view{workers[0].get(), workers[1].get()};
  const auto stale_after = daemon::watchdog(workers[0]->tick_period()).stale_after();
  CHECK(stale_after == 700ms);
  CHECK(test::poll_until(
      [&] { return daemon::stuck_worker(view, std::chrono::steady_clock::now(), stale_after) == -1; }, 5s));

  std::promise<void> release;
  auto released = release.get_future().share();
  workers[1]->run_on([released] { released.wait(); });
  CHECK(test::poll_until([&] { return daemon::stuck_worker(view, std::chrono::steady_clock::now(), stale_after) == 1; },
                         5s));

  release.set_value();
  CHECK(test::poll_until(
      [&] { return daemon::stuck_worker(view, std::chrono::steady_clock::now(), stale_after) == -1; }, 5s));
  for (auto& w : workers) w->stop(0ms);
  for (auto& w : workers) w->join();
}
