#include "detour/proxy/worker_metrics.hpp"

#include <catch2/catch.hpp>

#include <iterator>

using detour::proxy::reason_words;
using detour::proxy::result_words;
using detour::proxy::word_index;

TEST_CASE("a word outside a label's list is counted as its last word", "[proxy]") {
  CHECK(word_index(result_words, "echoed") == 3);
  CHECK(word_index(reason_words, "eof") == 0);
  CHECK(word_index(reason_words, "Connection refused") == std::size(reason_words) - 1);
  CHECK(reason_words[std::size(reason_words) - 1] == "other");
}

TEST_CASE("every connect failure kind is a reason word of its own", "[proxy]") {
  using detour::upstream::failure_kind;
  for (auto k = static_cast<int>(failure_kind::timeout); k <= static_cast<int>(failure_kind::other); ++k) {
    const auto word = to_string(static_cast<failure_kind>(k));
    INFO(word);
    CHECK(word_index(reason_words, word) != std::size(reason_words) - 1);
  }
}

TEST_CASE("a close is counted once, under its result and reason", "[proxy]") {
  detour::proxy::closed_counters closed;
  closed.add("relayed", "admin");
  closed.add("relayed", "admin");
  closed.add("connect_failed", "timeout");
  std::uint64_t total = 0;
  for (const auto& c : closed.by_result_reason) total += c.get();
  CHECK(total == 3);
  CHECK(closed
            .by_result_reason[word_index(result_words, "relayed") * std::size(reason_words) +
                              word_index(reason_words, "admin")]
            .get() == 2);
}
