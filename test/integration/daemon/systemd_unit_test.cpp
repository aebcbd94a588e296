// packaging/: the hardened systemd unit and the sysusers.d file for its user, checked by systemd's
// own tools (nothing is installed or started on the host).
#include "support/detourd_process.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

const std::filesystem::path packaging = std::filesystem::path(DETOUR_SOURCE_DIR) / "packaging";

}  // namespace

TEST_CASE("systemd-analyze verify accepts the unit as it is, with the binary at the built path", "[daemon]") {
  auto unit = file_contents(packaging / "detourd.service");
  // verify checks that every Exec*= program exists.
  REQUIRE(unit.find("/usr/local/sbin/detourd") != std::string::npos);
  temp_dir dir;
  auto copy = dir.write("detourd.service", replace_all(unit, "/usr/local/sbin/detourd", DETOURD_PATH));

  auto run = run_to_completion({"/usr/bin/systemd-analyze", "verify", copy.string()}, 60s);
  CHECK(run.exit_code == 0);
  CHECK(run.err.empty());
  CHECK(run.out.empty());
}

TEST_CASE("the sysusers.d file creates the detour user and group with no home and no login", "[daemon]") {
  temp_dir root;
  std::filesystem::create_directory(root.path() / "etc");

  auto run = run_to_completion(
      {"/usr/bin/systemd-sysusers", "--root=" + root.path().string(), (packaging / "detour.sysusers").string()}, 60s);
  REQUIRE(run.exit_code == 0);
  auto passwd = file_contents(root.path() / "etc" / "passwd");
  auto group = file_contents(root.path() / "etc" / "group");
  CHECK(passwd.starts_with("detour:x:"));
  CHECK(passwd.ends_with(":detour transparent proxy:/nonexistent:/usr/sbin/nologin\n"));
  CHECK(group.starts_with("detour:x:"));
}
