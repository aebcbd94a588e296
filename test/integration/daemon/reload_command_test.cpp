// `detourd reload`: through the admin endpoint (the fake backend's, with the real binary as the
// client), and by SIGHUP to the pid in a pid file that a real `detourd run --pidfile` wrote.
#include "detour/admin/admin_client.hpp"
#include "detour/net/sockaddr.hpp"
#include "support/admin_http.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace detour::test;

namespace {

std::string admin_address(const served_admin& admin) { return detour::net::to_string(admin.server.local_endpoint()); }

// A pid that no process has: a child's, once it has exited and been reaped.
pid_t reaped_pid() {
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(devnull >= 0);
  child_process child({"/bin/true"}, devnull, devnull);
  ::close(devnull);
  REQUIRE(child.wait(10s) == 0);
  return child.pid();
}

std::string own_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

}  // namespace

TEST_CASE("detourd reload posts /reload and prints the message, or the reason on stderr with exit 1", "[daemon]") {
  enter_new_netns();
  served_admin admin;

  auto reloaded = run_detourd({"reload", "--admin", admin_address(admin)});
  CHECK(reloaded.exit_code == 0);
  CHECK(reloaded.out == "reloaded\n");
  CHECK(reloaded.err.empty());

  admin.backend.set_reload_result({false, "detour.yaml:2:7: port: `port` changes need a restart"});
  auto refused = run_detourd({"reload", "--admin", admin_address(admin)});
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.empty());
  CHECK(refused.err == "detourd reload: detour.yaml:2:7: port: `port` changes need a restart\n");
  CHECK(admin.backend.reload_calls() == 2);
}

TEST_CASE("detourd reload finds the endpoint in admin.listen of -c, and says so when it is off", "[daemon]") {
  enter_new_netns();
  served_admin admin;
  temp_dir dir;
  auto on = dir.write("on.yaml", fmt::format("admin:\n  listen: \"{}\"\n", admin_address(admin)));
  auto off = dir.write("off.yaml", "admin:\n  listen: off\n");

  CHECK(run_detourd({"reload", "-c", on.string()}).exit_code == 0);
  CHECK(admin.backend.reload_calls() == 1);
  auto refused = run_detourd({"reload", "-c", off.string()});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err == fmt::format("detourd reload: the admin endpoint is off (admin.listen in {}); set it, or pass "
                                   "--admin ADDRESS:PORT\n",
                                   off.string()));
}

TEST_CASE("detourd reload --pidfile sends SIGHUP to the detourd that wrote the file, which removes it at exit",
          "[daemon]") {
  enter_new_netns();
  temp_dir dir;
  auto path = dir.path() / "detourd.pid";
  detourd_process detourd(test_config(free_port(), "echo"), {"--pidfile", path.string()});
  std::ifstream written(path);
  std::string line;
  REQUIRE(std::getline(written, line));
  CHECK(line == std::to_string(detourd.pid()));

  auto sent = run_detourd({"reload", "--pidfile", path.string()});
  CHECK(sent.exit_code == 0);
  CHECK(sent.out == fmt::format("detourd: sent SIGHUP to {}\n", detourd.pid()));
  CHECK(detourd.wait_for_log("detourd: reload (SIGHUP)"));

  CHECK(detourd.stop() == 0);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("detourd reload --pidfile names the file and why it names no running detourd", "[daemon]") {
  enter_new_netns();
  temp_dir dir;
  auto path = dir.path() / "detourd.pid";
  struct example {
    std::optional<std::string> contents;  // nullopt: no file
    std::string problem;
  };
  auto gone = reaped_pid();
  for (const auto& e : std::vector<example>{
           {std::nullopt, "cannot read it: No such file or directory"},
           {"abc\n", "expected a process id (a positive integer), got \"abc\\n\""},
           {"0\n", "expected a process id (a positive integer), got \"0\\n\""},
           {"-5", "expected a process id (a positive integer), got \"-5\""},
           {"12 34\n", "expected a process id (a positive integer), got \"12 34\\n\""},
           {fmt::format("{}\n", gone),
            fmt::format("no process has pid {}: detourd is not running, or the file is stale", gone)},
           {fmt::format("{}\n", ::getpid()), fmt::format("pid {} is \"{}\", not detourd", ::getpid(), own_comm())},
       }) {
    INFO(e.problem);
    std::filesystem::remove(path);
    if (e.contents) dir.write("detourd.pid", *e.contents);
    auto run = run_detourd({"reload", "--pidfile", path.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    CHECK(run.err == fmt::format("detourd reload: pid file {}: {}\n", path.string(), e.problem));
  }
}
