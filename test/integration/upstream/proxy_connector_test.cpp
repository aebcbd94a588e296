// What the proxy connector does with hostile upstream replies, from a scripted fake proxy: the
// client is reset and the log says what was wrong.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"
#include "support/upstream_proxies.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("a malformed or stalled upstream reply resets the client and the log says what was wrong", "[upstream]") {
  proxied_workstation ws("fake", {"10.77.0.10"});
  std::string kind;
  std::string expected;
  tcp_server::handler script;

  SECTION("socks5: an unknown address type in the connect reply") {
    kind = "socks5";
    expected = "connect failed: socks5: malformed connect reply (address type 9)";
    script = [](int fd) {
      read_exactly(fd, 3);
      send_all(fd, std::string("\x05\x00", 2));
      read_exactly(fd, 10);
      send_all(fd, std::string("\x05\x00\x00\x09garbage", 11));
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("socks5: a server that speaks another protocol") {
    kind = "socks5";
    expected = "connect failed: socks5: not a SOCKS5 server (version 72 in method reply)";
    script = [](int fd) {
      send_all(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("http: an answer that is not HTTP") {
    kind = "http";
    expected = "connect failed: http: not an HTTP response from the proxy";
    script = [](int fd) {
      send_all(fd, "SSH-2.0-OpenSSH_9.2\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("http: a status line, then silence") {
    kind = "http";
    expected = "connect failed: http: connect timeout (no answer from the proxy)";
    script = [](int fd) {
      send_all(fd, "HTTP/1.1 200 Connection established\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }

  tcp_server fake(at("10.77.0.10", 0), script);
  detourd_process detourd(ws.upstream_config(
      fmt::format("    kind: {}\n    address: \"10.77.0.10:{}\"\n    connect_timeout: 500ms\n", kind, fake.port())));
  check_upstream_failure(detourd, expected);
}
