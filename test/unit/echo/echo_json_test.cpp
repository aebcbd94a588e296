#include "detour/echo/echo_json.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace {

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

}  // namespace

TEST_CASE("the json echo names the source, where it landed, the original destination, the route and its action",
          "[echo]") {
  CHECK(detour::echo::echo_json({ep("::ffff:10.0.0.5", 51234), ep("127.0.0.1", 15001), ep("2001:db8::1", 443),
                                 "route 3", "echo json", "outbound", "", "sni"}) ==
        "{\"source\":\"10.0.0.5:51234\",\"destination\":\"127.0.0.1:15001\","
        "\"original_destination\":\"[2001:db8::1]:443\",\"direction\":\"outbound\",\"server_name\":null,"
        "\"name_from\":null,\"route\":\"route 3\",\"action\":\"echo json\"}\n");
}

TEST_CASE("the json echo shows the direction and the sniffed name with where it came from", "[echo]") {
  auto parsed = boost::json::parse(detour::echo::echo_json({ep("10.0.0.5", 1), ep("10.0.0.1", 2), ep("10.0.0.2", 3),
                                                            "web", "echo json", "inbound", "www.example.com", "host"}))
                    .as_object();
  CHECK(parsed.at("direction").as_string() == "inbound");
  CHECK(parsed.at("server_name").as_string() == "www.example.com");
  CHECK(parsed.at("name_from").as_string() == "host");
}

TEST_CASE("the json echo escapes what JSON needs escaped", "[echo]") {
  auto line = detour::echo::echo_json({ep("10.0.0.5", 1), ep("10.0.0.1", 2), ep("10.0.0.2", 3), "a\"b\\c\n\x01",
                                       "upstream \xc3\xa9", "outbound", "", ""});
  REQUIRE(line.ends_with("}\n"));
  CHECK(line.find('\n') == line.size() - 1);
  auto parsed = boost::json::parse(line).as_object();
  CHECK(parsed.at("route").as_string() == "a\"b\\c\n\x01");
  CHECK(parsed.at("action").as_string() == "upstream \xc3\xa9");
  CHECK(parsed.at("original_destination").as_string() == "10.0.0.2:3");
}
