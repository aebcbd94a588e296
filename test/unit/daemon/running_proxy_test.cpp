#include "detour/daemon/running_proxy.hpp"

#include <catch2/catch.hpp>

using detour::admin::reload_result;
using detour::daemon::running_proxy;

TEST_CASE("the running proxy reloads through the reloader the daemon set, and without one says so", "[daemon]") {
  std::vector<std::unique_ptr<detour::proxy::worker>> workers;
  detour::proxy::metric_registry names;
  running_proxy proxy(workers, nullptr, names);

  auto unset = proxy.reload();
  CHECK_FALSE(unset.ok);
  CHECK(unset.message == "reload is not available");

  int calls = 0;
  proxy.set_reloader([&calls] {
    ++calls;
    return reload_result{calls == 1, calls == 1 ? "reloaded detour.yaml" : "detour.yaml:1:7: port: refused"};
  });
  auto first = proxy.reload();
  CHECK(first.ok);
  CHECK(first.message == "reloaded detour.yaml");
  auto second = proxy.reload();
  CHECK_FALSE(second.ok);
  CHECK(second.message == "detour.yaml:1:7: port: refused");
  CHECK(calls == 2);
}
