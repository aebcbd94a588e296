#include "detour/rules/capture_self_test.hpp"

#include "detour/config/config.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <unistd.h>

using boost::asio::ip::make_address;
using boost::asio::ip::tcp;
using detour::rules::is_self_test_destination;

TEST_CASE("only an original destination on port 0 is taken for the self-test", "[rules]") {
  CHECK(is_self_test_destination(detour::rules::self_test_destination_v4()));
  CHECK(is_self_test_destination(detour::rules::self_test_destination_v6()));
  CHECK(is_self_test_destination(tcp::endpoint(make_address("192.0.2.9"), 0)));
  CHECK_FALSE(is_self_test_destination(tcp::endpoint(make_address("127.255.255.254"), 1)));
  CHECK_FALSE(is_self_test_destination(tcp::endpoint(make_address("::1"), 15001)));
  CHECK_FALSE(is_self_test_destination(tcp::endpoint(make_address("192.0.2.9"), 443)));
}

TEST_CASE("the self-test answer names this process and the destination it read", "[rules]") {
  CHECK(detour::rules::self_test_answer(detour::rules::self_test_destination_v4()) ==
        fmt::format("detourd-self-test {} 127.255.255.254:0\n", ::getpid()));
  CHECK(detour::rules::self_test_answer(detour::rules::self_test_destination_v6()) ==
        fmt::format("detourd-self-test {} [::1]:0\n", ::getpid()));
}

TEST_CASE("the self-test is planned when on and something is captured", "[rules]") {
  auto planned = [](std::string_view yaml) {
    return detour::rules::plans_self_test(detour::parse_config(yaml, "t.yaml"));
  };
  CHECK(planned(""));
  CHECK(planned("intercept: {outbound: {enabled: false}, inbound: {enabled: true}}\n"));
  CHECK_FALSE(planned("intercept: {self_test: false}\n"));
  CHECK_FALSE(planned("intercept: {outbound: {enabled: false}}\n"));
  CHECK(detour::rules::self_test_mark != detour::config{}.mark);
}
