// The capture self-test of `detourd run`: a marked connection to port 0 through detourd's own nat
// output rule must come back to detourd with its original destination, or detourd names the cause
// and exits 1 before it is ready. Each case breaks one cause in a namespace of its own.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <signal.h>

using namespace detour::test;

namespace {

// detourd with its own rules on, as the default config has them.
std::string capturing_config(std::uint16_t port, std::string_view more = "") {
  return fmt::format("mode: echo\nport: {}\nworkers: 1\nadmin:\n  listen: off\n{}", port, more);
}

// What detourd printed last: main's one line for a failed start.
std::string last_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto start = text.rfind('\n');
  return start == std::string::npos ? text : text.substr(start + 1);
}

// Installs a table of the test's own that breaks the capture in some way.
void break_capture(std::string_view family, std::string_view chain_type, int priority, std::string_view statement) {
  sh(
      fmt::format("nft -f - <<'EOF'\ntable {} breaker {{\n  chain c {{\n    type {} hook output priority {}; policy "
                  "accept;\n    tcp dport 0 {}\n  }}\n}}\nEOF",
                  family, chain_type, priority, statement));
}

// Runs detourd on a config that is expected to fail the self-test; returns its last line, having
// checked that it exited 1 and left only the breaker's table behind.
std::string failed_start(std::string_view family) {
  temp_dir dir;
  auto file = dir.write("detour.yaml", capturing_config(free_port()));
  auto run = run_detourd({"run", "-c", file.string()});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("detourd: ready") == std::string::npos);
  CHECK(sh("nft list tables") == fmt::format("table {} breaker\n", family));
  return last_line(run.err);
}

constexpr std::string_view skip_hint = "Fix that and restart, or set intercept.self_test: false to skip this check";

}  // namespace

TEST_CASE("the self-test passes for both families and is answered by detourd, not routed", "[self_test]") {
  enter_new_netns();
  detourd_process detourd(capturing_config(free_port()));
  CHECK(detourd.wait_for_log("detourd: capture self-test passed (ipv4, ipv6)\n", 1s));
  // Once each family's check is answered, the readiness line follows.
  CHECK(detourd.log().find("capture self-test passed") < detourd.log().find("detourd: ready"));
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("accepted") == 0);
  CHECK(detourd.stop_counter("self_tests") == 2);
  CHECK(detourd.stop_counter("echoed") == 0);
  CHECK(detourd.stop_counter("not_redirected") == 0);
  CHECK(detourd.count_log_lines("session: [") == 0);
}

TEST_CASE("untracked self-test connections stop detourd with the nat and conntrack causes", "[self_test]") {
  enter_new_netns();
  // Only IPv6 is untracked: IPv4 passes first, so the message is about the family that broke.
  break_capture("ip6", "filter", -300, "notrack");
  CHECK(failed_start("ip6") ==
        fmt::format("detourd: capture self-test (ipv6) failed: a marked connection to [::1]:0: Connection refused: "
                    "the nat output hook did not redirect it (no NAT for this family, conntrack disabled for it "
                    "(notrack), or another nat table at a lower priority than -99 took the connection first). Check "
                    "`nft list ruleset` (and `iptables-save -t raw`) for a notrack rule or a nat output chain below "
                    "priority -99, and that the kernel has nf_conntrack and nf_nat for this family. Our self_test "
                    "rule saw no packet of it, so it was untracked or its NAT was decided before our chain ran. {}",
                    skip_hint));
}

TEST_CASE("a nat table before ours that sends the self-test elsewhere is reported as not reaching detourd",
          "[self_test]") {
  enter_new_netns();
  tcp_server impostor(at("127.0.0.1", 0), [](int fd) {
    send_all(fd, "someone else\n");
    return received_digest{};
  });
  // -150 runs before detourd's -99; a nat decision taken there is final for the connection.
  break_capture("ip", "nat", -150, fmt::format("redirect to :{}", impostor.port()));
  auto line = failed_start("ip");
  CHECK(line.starts_with(
      "detourd: capture self-test (ipv4) failed: a marked connection to 127.255.255.254:0: answered \"someone "
      "else\": it reached something other than detourd, or detourd could not read the original destination"));
  CHECK(line.find("a nat output chain below priority -99 that redirects or DNATs it elsewhere") != std::string::npos);
  CHECK(line.find("Our self_test rule saw no packet of it") != std::string::npos);
  CHECK(line.ends_with(skip_hint));
  CHECK(impostor.connections_accepted() == 1);
}

TEST_CASE("a filter that drops the self-test is reported as a timeout before detourd", "[self_test]") {
  enter_new_netns();
  break_capture("inet", "filter", -150, "drop");
  auto line = failed_start("inet");
  CHECK(
      line.starts_with("detourd: capture self-test (ipv4) failed: a marked connection to 127.255.255.254:0: no "
                       "answer to its SYN within 2s: it was dropped before it reached detourd (a filter rule?)."));
  CHECK(line.ends_with(skip_hint));
}

TEST_CASE("with intercept.self_test false detourd starts despite a broken capture", "[self_test]") {
  enter_new_netns();
  break_capture("inet", "filter", -300, "notrack");
  detourd_process detourd(capturing_config(free_port(), "intercept:\n  self_test: false\n"));
  CHECK(detourd.log().find("capture self-test") == std::string::npos);
  // Without the check there is no rule for it either.
  CHECK(sh("nft list table inet detour").find("self_test") == std::string::npos);
  CHECK(detourd.stop() == 0);
}
