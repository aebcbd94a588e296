#include "detour/daemon/pidfile.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using detour::daemon::pidfile;
using detour::daemon::pidfile_error;
using detour::test::file_contents;
using detour::test::temp_dir;

namespace {

ino_t inode(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

const std::string our_pid_line = std::to_string(::getpid()) + "\n";

}  // namespace

TEST_CASE("a pid file holds our pid and a newline, readable by all, and is removed at destruction", "[daemon]") {
  temp_dir dir;
  auto path = dir.path() / "detourd.pid";
  {
    pidfile file(path);
    CHECK(file.path() == path);
    CHECK(file_contents(path) == our_pid_line);
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
           std::filesystem::perms::group_read | std::filesystem::perms::others_read));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a pid file replaces an old one by rename, so a reader never sees it half-written", "[daemon]") {
  temp_dir dir;
  auto path = dir.write("detourd.pid", "4242\n");
  // A second name for the old file: an in-place rewrite would change what it holds too.
  auto old_name = dir.path() / "old.pid";
  std::filesystem::create_hard_link(path, old_name);
  auto old_inode = inode(path);

  pidfile file(path);
  CHECK(file_contents(path) == our_pid_line);
  CHECK(inode(path) != old_inode);
  CHECK(file_contents(old_name) == "4242\n");
  // No temporary file is left beside it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 2);
}

TEST_CASE("a pid file that holds another pid by the time we stop stays, for the detourd that wrote it", "[daemon]") {
  temp_dir dir;
  auto path = dir.path() / "detourd.pid";
  {
    pidfile file(path);
    dir.write("detourd.pid", "1\n");
  }
  CHECK(file_contents(path) == "1\n");
}

TEST_CASE("a pid file in a directory that cannot hold it is an error naming the path and the reason", "[daemon]") {
  temp_dir dir;
  auto path = dir.path() / "missing" / "detourd.pid";
  try {
    pidfile file(path);
    FAIL("no error");
  } catch (const pidfile_error& e) {
    CHECK(std::string(e.what()) == "pid file " + path.string() + ": cannot create a file in " +
                                       (dir.path() / "missing").string() + ": No such file or directory");
  }
}
