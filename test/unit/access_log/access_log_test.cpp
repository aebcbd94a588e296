#include "detour/access_log/access_log.hpp"

#include "detour/proxy/access_log_batch.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

using detour::access_log::writer;
namespace fs = std::filesystem;

namespace {

// A directory of its own under /tmp, removed afterwards.
struct scratch_dir {
  scratch_dir() {
    std::string pattern = (fs::temp_directory_path() / "detour-access-log-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~scratch_dir() { fs::remove_all(path); }
  fs::path path;
};

std::string contents(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("lines from two workers all arrive once, each worker's in order", "[access_log]") {
  scratch_dir dir;
  const auto file = dir.path / "access.log";
  constexpr std::uint64_t per_producer = 3000;
  {
    writer log(file.string());
    log.start();
    auto produce = [&log](std::uint64_t producer) {
      boost::asio::io_context context;
      // Small batches, so the two hand over many times, interleaved.
      detour::proxy::access_log_batch batch(context, log, 2048);
      detour::proxy::session_record r;
      r.snapshot = detour::proxy::make_snapshot(detour::config{});
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        r.id = producer * 1'000'000 + i;
        batch.add(r, detour::proxy::outcome::not_redirected);
      }
      batch.flush();
      CHECK(batch.dropped().get() == 0);
    };
    std::thread first(produce, 1);
    std::thread second(produce, 2);
    first.join();
    second.join();
  }
  std::istringstream lines(contents(file));
  std::map<std::uint64_t, std::uint64_t> next;  // producer -> the index its next line must have
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    auto id = boost::json::parse(line).at("id").to_number<std::uint64_t>();
    auto& expected = next[id / 1'000'000];
    REQUIRE(id % 1'000'000 == expected);
    ++expected;
  }
  CHECK(count == 2 * per_producer);
  CHECK(next == std::map<std::uint64_t, std::uint64_t>{{1, per_producer}, {2, per_producer}});
}

TEST_CASE("after a rename, reopen puts new lines in a new file by the old name", "[access_log]") {
  scratch_dir dir;
  const auto file = dir.path / "access.log";
  const auto rotated = dir.path / "access.log.1";
  {
    writer log(file.string());
    log.start();
    REQUIRE(log.submit("before\n"));
    fs::rename(file, rotated);
    log.reopen();
    REQUIRE(log.submit("after\n"));
  }
  CHECK(contents(rotated) == "before\n");
  CHECK(contents(file) == "after\n");
  CHECK((fs::status(file).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}

TEST_CASE("an access log path that cannot be opened names the path and the reason", "[access_log]") {
  CHECK_THROWS_WITH(writer("/nonexistent/dir/access.log"),
                    "access log /nonexistent/dir/access.log: cannot open for appending: No such file or directory");
  scratch_dir dir;
  const auto file = dir.path / "access.log";
  writer log(file.string());
  log.start();
  fs::remove_all(dir.path);
  CHECK_THROWS_WITH(log.reopen(), Catch::Contains("No such file or directory"));
}

TEST_CASE("a batch the full queue cannot take is dropped and its lines counted", "[access_log]") {
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  const std::string big(100 * 1024, 'x');
  std::string received;
  std::uint64_t dropped = 0;
  {
    // The writer blocks on the pipe after its first 64 KiB, nobody reading: the 100 KiB stay
    // queued, over the 1 KiB limit.
    writer log("/proc/self/fd/" + std::to_string(pipe_fds[1]), 1024);
    log.start();
    ::close(pipe_fds[1]);
    REQUIRE(log.submit(std::string(big)));
    std::string refused = "refused\n";
    CHECK_FALSE(log.submit(std::move(refused)));
    CHECK(refused == "refused\n");

    boost::asio::io_context context;
    detour::proxy::access_log_batch batch(context, log, 1);
    detour::proxy::session_record r;
    r.snapshot = detour::proxy::make_snapshot(detour::config{});
    batch.add(r, detour::proxy::outcome::loop);
    batch.add(r, detour::proxy::outcome::loop);
    dropped = batch.dropped().get();

    char chunk[8192];
    while (received.size() < big.size()) {
      auto n = ::read(pipe_fds[0], chunk, sizeof chunk);
      REQUIRE(n > 0);
      received.append(chunk, static_cast<std::size_t>(n));
    }
  }
  char extra;
  CHECK(::read(pipe_fds[0], &extra, 1) == 0);  // nothing dropped was written after all
  ::close(pipe_fds[0]);
  CHECK(received == big);
  CHECK(dropped == 2);
}
