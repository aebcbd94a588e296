#include "detour/net/cidr.hpp"

#include <catch2/catch.hpp>

using detour::net::merge_cidrs;
using detour::net::parse_cidr;

namespace {

std::vector<std::string> merged(std::initializer_list<const char*> texts) {
  std::vector<detour::net::cidr> in;
  for (auto t : texts) in.push_back(*parse_cidr(t));
  std::vector<std::string> out;
  for (const auto& c : merge_cidrs(in)) out.push_back(c.to_string());
  return out;
}

}  // namespace

TEST_CASE("a cidr is stored masked, so equal prefixes compare equal", "[net]") {
  CHECK(parse_cidr("10.1.2.3/8")->to_string() == "10.0.0.0/8");
  CHECK(parse_cidr("fd00::1/8")->to_string() == "fd00::/8");
  CHECK(parse_cidr("192.0.2.9")->to_string() == "192.0.2.9/32");
  CHECK(parse_cidr("::ffff:10.0.0.1/32")->to_string() == "10.0.0.1/32");
  CHECK(parse_cidr("0.0.0.0/0")->contains(boost::asio::ip::make_address("1.2.3.4")));
  CHECK_FALSE(parse_cidr("0.0.0.0/0")->contains(boost::asio::ip::make_address("::1")));
}

TEST_CASE("a bad cidr says what is wrong with it", "[net]") {
  std::string why;
  CHECK_FALSE(parse_cidr("10.0.0.0/33", &why));
  CHECK(why == "\"33\" is not a prefix length from 0 to 32");
  CHECK_FALSE(parse_cidr("10.0.0/8", &why));
  CHECK(why == "\"10.0.0\" is not an IPv4 or IPv6 address");
  CHECK_FALSE(parse_cidr("::/", &why));
  CHECK(why == "\"\" is not a prefix length from 0 to 128");
}

TEST_CASE("overlapping and adjacent prefixes merge into the fewest covering ones", "[net]") {
  CHECK(merged({"10.0.0.0/8", "10.1.0.0/16"}) == std::vector<std::string>{"10.0.0.0/8"});
  CHECK(merged({"10.0.0.0/9", "10.128.0.0/9"}) == std::vector<std::string>{"10.0.0.0/8"});
  CHECK(merged({"10.0.0.0/8", "11.0.0.0/8"}) == std::vector<std::string>{"10.0.0.0/7"});
  CHECK(merged({"11.0.0.0/8", "12.0.0.0/8"}) == std::vector<std::string>{"11.0.0.0/8", "12.0.0.0/8"});
  CHECK(merged({"0.0.0.0/0", "1.2.3.4"}) == std::vector<std::string>{"0.0.0.0/0"});
  CHECK(merged({"::/0", "10.0.0.0/8"}) == std::vector<std::string>{"10.0.0.0/8", "::/0"});
  CHECK(merged({"fd00::/9", "fd80::/9", "2001:db8::1"}) == std::vector<std::string>{"2001:db8::1/128", "fd00::/8"});
  CHECK(merged({"255.255.255.255", "255.255.255.254"}) == std::vector<std::string>{"255.255.255.254/31"});
}
