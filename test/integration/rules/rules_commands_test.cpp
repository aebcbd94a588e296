// `detourd rules show|install|remove` and the functions behind them: an un-owned table that stays
// after the command exits (as init containers want it), replaced by a second install, removed by
// remove, and a missing table reported, not an error.
#include "support/capture.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"

#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace detour;
using namespace detour::test;

namespace {

std::string tables() { return sh("nft list tables"); }

}  // namespace

TEST_CASE("detourd rules show, install and remove work from the command line", "[rules]") {
  enter_new_netns();
  auto show = run_detourd({"rules", "show"});
  CHECK(show.exit_code == 0);
  CHECK(show.out.rfind("table inet detour {\n", 0) == 0);
  CHECK(tables() == "");
  CHECK(run_detourd({"rules", "install"}).exit_code == 0);
  CHECK(tables() == "table inet detour\n");
  CHECK(run_detourd({"rules", "remove"}).exit_code == 0);
  CHECK(tables() == "");
  auto again = run_detourd({"rules", "remove"});
  CHECK(again.exit_code == 0);
  CHECK(again.out + again.err == "table inet detour is not installed\n");
}

TEST_CASE("rules install leaves an un-owned table and rules remove deletes it", "[rules]") {
  enter_new_netns();
  auto cfg = config_for_port(test::free_port(), "intercept: {table: sidecar}\n");
  std::ostringstream err;
  CHECK(rules::rules_install(cfg, err) == 0);
  CHECK(tables() == "table inet sidecar\n");
  CHECK(table_header("sidecar").find("flags") == std::string::npos);
  // A second install replaces the table rather than adding a second copy of each rule.
  CHECK(rules::rules_install(cfg, err) == 0);
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(rules::make_plan(cfg))));
  CHECK(rules::rules_remove(cfg, err) == 0);
  CHECK(tables() == "");
  CHECK(err.str() == "");
  CHECK(rules::rules_remove(cfg, err) == 0);
  CHECK(err.str() == "table inet sidecar is not installed\n");
}
