// detourd's command line as an operator meets it: config validation that says where and why,
// the version, and options that override the config file.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("detourd check accepts the documented config/detour.yaml", "[cli]") {
  auto run = run_detourd({"check", "-c", DETOUR_SOURCE_DIR "/config/detour.yaml"});
  CHECK(run.exit_code == 0);
}

TEST_CASE("detourd check refuses a bad config and says where and why", "[cli]") {
  temp_dir dir;

  SECTION("a value out of range") {
    auto file = dir.write("bad.yaml", "mode: echo\nport: 70000\n");
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":2:7: port: expected an integer from 1 to 65535, got \"70000\"\n");
  }
  SECTION("an unknown key") {
    auto file = dir.write("bad.yaml", "mode: echo\nlog:\n  levle: debug\n");
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":3:3: log.levle: unknown key (known: level)\n");
  }
  SECTION("a document nested thousands deep") {
    auto file = dir.write("deep.yaml", "x: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n");
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":1:68: YAML: nested too deep (limit 64)\n");
  }
  SECTION("too many routes") {
    std::string routes = "routes:\n";
    for (int i = 0; i < 10'001; ++i) routes += "  - {ports: [1], action: direct}\n";
    auto file = dir.write("routes.yaml", routes);
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ":2:3: routes: 10001 entries, over the limit of 10000\n");
  }
  SECTION("a missing file") {
    auto file = dir.path() / "missing.yaml";
    auto run = run_detourd({"check", "-c", file.string()});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "detourd: " + file.string() + ": cannot open: No such file or directory\n");
  }
}

TEST_CASE("detourd version prints the project version", "[cli]") {
  auto run = run_detourd({"version"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find(DETOUR_VERSION) != std::string::npos);
}

TEST_CASE("the command line's --mode and --port override the config file", "[cli]") {
  enter_new_netns();
  auto config_port = free_port();
  auto port = free_port();
  redirect_output(port);
  detourd_process detourd(test_config(config_port, "reject"), {"--mode", "echo", "--port", std::to_string(port)});

  auto got = read_answer_and_close(connect_to(at("127.0.0.1", 80)));
  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes.find(fmt::format("dest{{ip: 127.0.0.1, port: {}}}; original dest{{ip: 127.0.0.1, port: 80}}\n",
                                         port)) != std::string::npos);
}
