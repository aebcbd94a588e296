#include "detour/sniff/sniffer.hpp"

#include "unit/sniff/sniff_captures.hpp"

#include <catch2/catch.hpp>

using namespace detour::sniff;
using detour::test::sniff_capture;

TEST_CASE("sniff_name tells TLS from HTTP by the first byte and names both", "[sniff]") {
  auto tls = sniff_name(sniff_capture("openssl-s_client.bin"));
  CHECK(tls.status == sniff_status::found);
  CHECK(tls.proto == protocol::tls);
  CHECK(tls.name == "www.example.com");
  auto ech = sniff_name(sniff_capture("ech-outer.bin"));
  CHECK(ech.name == "public.example.net");
  CHECK(ech.ech);
  auto http = sniff_name(sniff_capture("curl-http.bin"));
  CHECK(http.status == sniff_status::found);
  CHECK(http.proto == protocol::http);
  CHECK(http.name == "plain.example.org");
  CHECK_FALSE(http.ech);
  auto empty = sniff_name("");
  CHECK(empty.status == sniff_status::need_more);
  CHECK(empty.wanted == 1);
  CHECK(empty.proto == protocol::none);
}

TEST_CASE("client-first protocols that are neither TLS nor HTTP are turned away within three bytes", "[sniff]") {
  struct foreign {
    std::string bytes;
    std::size_t decided_after;
  };
  const foreign cases[] = {
      {"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 1},  // an SSH client's banner
      {std::string("\x00\x01", 2), 1},
      {"EHLO client.example\r\n", 1},
      {"HELO client.example\r\n", 3},
      {std::string("\x05\x01\x00", 3), 1},  // a SOCKS5 greeting
      {"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n", 2},
      {std::string("\x16\x03\x09", 3), 3},
      {std::string("\x16\x16", 2), 2},
  };
  for (const auto& c : cases) {
    INFO(c.bytes);
    for (std::size_t seen = 0; seen < c.decided_after; ++seen) {
      auto r = sniff_name(c.bytes.substr(0, seen));
      CHECK(r.status == sniff_status::need_more);
      CHECK(r.wanted == seen + 1);
    }
    auto r = sniff_name(c.bytes.substr(0, c.decided_after));
    CHECK(r.status == sniff_status::not_recognized);
    CHECK(r.proto == protocol::none);
    CHECK(r.detail == "neither a TLS ClientHello nor an HTTP/1 request");
    CHECK(sniff_name(c.bytes).status == sniff_status::not_recognized);
  }
}

TEST_CASE("on every prefix of every capture, sniff_name waits or gives the verdict on the whole", "[sniff]") {
  for (const char* file :
       {"openssl-s_client.bin", "curl-https.bin", "python-ssl.bin", "chromium.bin", "ech-outer.bin", "curl-http.bin"}) {
    INFO(file);
    auto bytes = sniff_capture(file);
    auto whole = sniff_name(bytes);
    for (std::size_t seen = 0; seen < bytes.size(); ++seen) {
      auto r = sniff_name(std::string_view(bytes).substr(0, seen));
      INFO("after " << seen << " bytes");
      if (r.status == sniff_status::need_more) {
        CHECK(r.wanted > seen);
        CHECK(r.wanted <= sniff_bound);
        continue;
      }
      CHECK(r.status == whole.status);
      CHECK(r.name == whole.name);
    }
  }
}

TEST_CASE("statuses and protocols have names for the log", "[sniff]") {
  CHECK(to_string(sniff_status::need_more) == "need_more");
  CHECK(to_string(sniff_status::found) == "found");
  CHECK(to_string(sniff_status::no_name) == "no_name");
  CHECK(to_string(sniff_status::malformed) == "malformed");
  CHECK(to_string(sniff_status::too_long) == "too_long");
  CHECK(to_string(sniff_status::not_recognized) == "not_recognized");
  CHECK(to_string(protocol::none) == "none");
  CHECK(to_string(protocol::tls) == "tls");
  CHECK(to_string(protocol::http) == "http");
  CHECK(sniff_bound == 16384);
}
