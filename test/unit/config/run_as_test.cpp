// `user:` and `group:` are resolved while the config is read, against this host's passwd and group
// databases; the names used here (nobody, nogroup, root) are in every Debian base system.
#include "detour/config/run_as.hpp"

#include "detour/config/config.hpp"
#include "detour/daemon/run.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using detour::run_as_config;

namespace {

run_as_config run_as_of(const std::string& yaml) {
  auto cfg = detour::parse_config(yaml, "detour.yaml");
  REQUIRE(cfg.run_as);
  return *cfg.run_as;
}

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "detour.yaml"); }

}  // namespace

TEST_CASE("user and group are read by name or number, the group defaulting to the user's primary one", "[config]") {
  CHECK(run_as_of("user: nobody\n") == run_as_config{"nobody", 65534, "nogroup", 65534});
  CHECK(run_as_of("user: nobody\ngroup: root\n") == run_as_config{"nobody", 65534, "root", 0});
  CHECK(run_as_of("user: 65534\ngroup: 0\n") == run_as_config{"nobody", 65534, "root", 0});
  CHECK(run_as_of("user: \"0\"\n") == run_as_config{"root", 0, "root", 0});
  // No passwd entry (an id picked for a container): the group of the same number, as istio does.
  CHECK(run_as_of("user: 4000000000\n") == run_as_config{"4000000000", 4000000000U, "4000000000", 4000000000U});
  CHECK(run_as_of("user: nobody\ngroup: 4000000001\n") == run_as_config{"nobody", 65534, "4000000001", 4000000001U});
  CHECK_FALSE(detour::parse_config("port: 1\n", "detour.yaml").run_as);
}

TEST_CASE("a user or group this host does not know is refused at its place in the file", "[config]") {
  // Each config with the exact message it is refused with.
  const std::vector<std::pair<std::string, std::string>> refused{
      {"port: 1\nuser: no-such-user-here\n",
       "detour.yaml:2:7: user: no such user \"no-such-user-here\" on this host (a name or a numeric uid)"},
      {"user: nobody\ngroup: no-such-group-here\n",
       "detour.yaml:2:8: group: no such group \"no-such-group-here\" on this host (a name or a numeric gid)"},
      // (uid_t)-1 means "unchanged" to setresuid, so it is no user.
      {"user: 4294967295\n",
       "detour.yaml:1:7: user: no such user \"4294967295\" on this host (a name or a numeric uid)"},
      {"user: \"\"\n", "detour.yaml:1:7: user: expected a user name or a numeric uid, got \"\""},
      {"user: nobody\ngroup: \"\"\n", "detour.yaml:2:8: group: expected a group name or a numeric gid, got \"\""},
      {"group: nogroup\n", "detour.yaml:1:8: group: needs `user:`; without it detourd keeps the user it starts as"},
  };
  for (const auto& [yaml, message] : refused) CHECK(error_of(yaml) == message);
}

TEST_CASE("a user to run as excludes detourd's own connections, so mark: 0 is allowed with it", "[config]") {
  CHECK_NOTHROW(detour::parse_config("mark: 0\nuser: nobody\n", "detour.yaml"));
}

TEST_CASE("run --user replaces user: with that user in its primary group, and names an unknown one", "[config]") {
  detour::daemon::run_options options;
  options.user_override = "nobody";
  CHECK(detour::daemon::load_run_config(options).run_as == run_as_config{"nobody", 65534, "nogroup", 65534});
  options.user_override = "no-such-user-here";
  CHECK_THROWS_WITH(detour::daemon::load_run_config(options),
                    "--user: no such user \"no-such-user-here\" on this host (a name or a numeric uid)");
}
