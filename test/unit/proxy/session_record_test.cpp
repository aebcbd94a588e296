#include "detour/proxy/session_record.hpp"

#include <catch2/catch.hpp>

using detour::proxy::outcome;
using detour::proxy::reason_label;
using detour::proxy::result_of;
using detour::proxy::session_record;
using detour::upstream::failure_kind;

TEST_CASE("each outcome has one result word", "[proxy]") {
  CHECK(result_of(outcome::not_redirected) == "refused");
  CHECK(result_of(outcome::loop) == "refused");
  CHECK(result_of(outcome::rejected) == "rejected");
  CHECK(result_of(outcome::echoed) == "echoed");
  CHECK(result_of(outcome::connect_failed) == "connect_failed");
  CHECK(result_of(outcome::early_data_failed) == "relayed");
  CHECK(result_of(outcome::relayed) == "relayed");
}

TEST_CASE("a reason label is a fixed word, never the text of a failure", "[proxy]") {
  session_record r;
  r.reason = "all 2 servers failed: 10.0.0.1:1080: Connection refused; 10.0.0.2:1080: Connection refused";
  r.failure = failure_kind::refused;
  CHECK(reason_label(r, outcome::connect_failed) == "refused");
  r.reason = "shutdown";
  r.failure = failure_kind::cancelled;
  CHECK(reason_label(r, outcome::connect_failed) == "shutdown");
  r.reason = "Broken pipe";
  CHECK(reason_label(r, outcome::early_data_failed) == "client error");
  r.reason = "upstream reset";
  CHECK(reason_label(r, outcome::relayed) == "upstream reset");
  CHECK(reason_label(r, outcome::loop) == "loop");
  CHECK(reason_label(r, outcome::not_redirected) == "not redirected");
}
