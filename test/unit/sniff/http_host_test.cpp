#include "detour/sniff/http_host.hpp"

#include "unit/sniff/sniff_captures.hpp"

#include <catch2/catch.hpp>

using namespace detour::sniff;
using detour::test::sniff_capture;

namespace {

sniff_result sniffed(std::string_view stream) { return sniff_http_host(stream); }

// The name, or the status and detail when there is none.
std::string outcome(std::string_view stream) {
  auto r = sniffed(stream);
  if (r.status == sniff_status::found) return r.name;
  return std::string(to_string(r.status)) + ": " + std::string(r.detail);
}

}  // namespace

TEST_CASE("curl's captured request names its Host as soon as the byte after the Host line is in", "[sniff]") {
  auto request = sniff_capture("curl-http.bin");
  auto host_line_end = request.find('\n', request.find("Host:")) + 1;
  for (std::size_t seen = 0; seen <= host_line_end; ++seen) {
    auto r = sniffed(std::string_view(request).substr(0, seen));
    INFO("after " << seen << " bytes");
    REQUIRE(r.status == sniff_status::need_more);
    CHECK(r.wanted == seen + 1);
    CHECK(r.proto == (seen >= 4 ? protocol::http : protocol::none));
  }
  for (auto seen = host_line_end + 1; seen <= request.size(); ++seen) {
    auto r = sniffed(std::string_view(request).substr(0, seen));
    CHECK(r.status == sniff_status::found);
    CHECK(r.proto == protocol::http);
    CHECK(r.name == "plain.example.org");
  }
}

TEST_CASE("the Host header is found whatever its name's case, its value's case, whitespace and port", "[sniff]") {
  CHECK(outcome("GET / HTTP/1.1\r\nHOST: WWW.Example.COM\r\n\r\n") == "www.example.com");
  CHECK(outcome("GET / HTTP/1.1\r\nhost: example.com:8080\r\n\r\n") == "example.com");
  CHECK(outcome("GET / HTTP/1.1\r\nHost:example.com.\r\n\r\n") == "example.com");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: \t example.com \t\r\n\r\n") == "example.com");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n") == "example.com");
  CHECK(outcome("GET / HTTP/1.1\nUser-Agent: x\nHost: lf.example\n\n") == "lf.example");
  CHECK(outcome("POST /form HTTP/1.1\r\nContent-Length: 3\r\nHost: post.example\r\n\r\nabc") == "post.example");
  CHECK(outcome("CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\n\r\n") == "tunnel.example");
  CHECK(outcome("OPTIONS * HTTP/1.1\r\nHost: star.example\r\n\r\n") == "star.example");
  // The Host header, not the absolute-form target: the header is what every client sends.
  CHECK(outcome("GET http://target.example/ HTTP/1.1\r\nHost: header.example\r\n\r\n") == "header.example");
}

TEST_CASE("every well-known method counts as HTTP, and nothing else does", "[sniff]") {
  for (const char* method : {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}) {
    INFO(method);
    CHECK(outcome(std::string(method) + " / HTTP/1.1\r\nHost: m.example\r\n\r\n") == "m.example");
  }
  CHECK(outcome("get / HTTP/1.1\r\n") == "not_recognized: not an HTTP/1 request method");
  CHECK(outcome("PROPFIND / HTTP/1.1\r\n") == "not_recognized: not an HTTP/1 request method");
  CHECK(outcome("GETS / HTTP/1.1\r\n") == "not_recognized: not an HTTP/1 request method");
  // HTTP/2 with prior knowledge: its preface is not an HTTP/1 request.
  CHECK(outcome("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == "not_recognized: not an HTTP/1 request method");
  CHECK(sniffed("").wanted == 1);
}

TEST_CASE("an HTTP/1.0 request is read the same way, and without Host it names nothing", "[sniff]") {
  CHECK(outcome("GET / HTTP/1.0\r\nHost: old.example\r\n\r\n") == "old.example");
  CHECK(outcome("GET / HTTP/1.0\r\n\r\n") == "no_name: no Host header");
  CHECK(outcome("GET / HTTP/1.0\n\n") == "no_name: no Host header");
  CHECK(outcome("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == "no_name: no Host header");
  CHECK(sniffed("GET / HTTP/1.1\r\nAccept: */*\r\n").status == sniff_status::need_more);
}

TEST_CASE("an address or an invalid name in Host is no name", "[sniff]") {
  CHECK(outcome("GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n") == "no_name: Host is an IP address");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n\r\n") == "no_name: Host is an IP address");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n") == "no_name: Host is an IP address");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n") == "no_name: Host is an IP address");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n") == "no_name: Host is not a valid host name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: \r\n\r\n") == "no_name: Host is empty");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == "no_name: Host is not a valid host name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n") == "no_name: Host is not a valid host name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: example.com:80x\r\n\r\n") == "no_name: Host is not a valid host name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: ex\xc3\xa4mple.com\r\n\r\n") == "no_name: Host is not a valid host name");
}

TEST_CASE("folded, garbled or control-laden requests are malformed, not waited for", "[sniff]") {
  CHECK(outcome("GET / HTTP/1.1\r\nHost: example.com\r\n folded.example\r\n\r\n") == "malformed: folded header line");
  CHECK(outcome("GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\nHost: example.com\r\n\r\n") == "malformed: folded header line");
  CHECK(outcome("GET / HTTP/1.1\r\n Host: example.com\r\n\r\n") == "malformed: folded header line");
  CHECK(outcome("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n") == "malformed: invalid header name");
  CHECK(outcome("GET / HTTP/1.1\r\n: example.com\r\n\r\n") == "malformed: invalid header name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost\r\n\r\n") == "malformed: invalid header name");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: exa\x01mple.com\r\n\r\n") == "malformed: control byte in a header");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: example.com\rX\r\n\r\n") == "malformed: a CR without LF");
  CHECK(outcome("GET / HTTP/1.1\rHost: example.com\r\n\r\n") == "malformed: a CR without LF");
  CHECK(outcome("GET /\r\n") == "malformed: not an HTTP/1.x request line");
  CHECK(outcome("GET  / HTTP/1.1\r\n") == "malformed: not an HTTP/1.x request line");
  CHECK(outcome("GET / HTTP/2.0\r\n") == "malformed: not an HTTP/1.x request line");
  CHECK(outcome("GET / HTTP/1.1 \r\n") == "malformed: not an HTTP/1.x request line");
  CHECK(outcome("GET /\x7f HTTP/1.1\r\n") == "malformed: not an HTTP/1.x request line");
  // Decided at the bad byte, not at the end of the line or the bound.
  CHECK(outcome("GET /\x01") == "malformed: not an HTTP/1.x request line");
  CHECK(outcome("GET / HTTP/1.1\r\nX\x01") == "malformed: invalid header name");
}

TEST_CASE("a request head that shows no Host within 8 KiB gives up, one whose Host comes first does not", "[sniff]") {
  auto big_cookie = "Cookie: " + std::string(http_sniff_bound, 'c') + "\r\n";
  auto r = sniffed("GET / HTTP/1.1\r\n" + big_cookie + "Host: late.example\r\n\r\n");
  CHECK(r.status == sniff_status::too_long);
  CHECK(r.proto == protocol::http);
  CHECK(r.detail == "no Host within 8192 bytes");
  CHECK(outcome("GET / HTTP/1.1\r\nHost: early.example\r\n" + big_cookie + "\r\n") == "early.example");
  CHECK(sniffed("GET /" + std::string(http_sniff_bound, 'a')).status == sniff_status::too_long);

  // Exactly at the bound: the byte after the Host line is the 8192nd.
  std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
  std::string tail = "\r\nHost: edge.example\r\n";
  auto exact = head + std::string(http_sniff_bound - head.size() - tail.size() - 1, 'p') + tail + "\r";
  REQUIRE(exact.size() == http_sniff_bound);
  CHECK(outcome(exact) == "edge.example");
  auto over = head + std::string(http_sniff_bound - head.size() - tail.size(), 'p') + tail + "\r";
  CHECK(outcome(over) == "too_long: no Host within 8192 bytes");
  for (std::size_t seen = over.size() - 40; seen < http_sniff_bound; ++seen) {
    auto part = sniffed(std::string_view(over).substr(0, seen));
    CHECK(part.status == sniff_status::need_more);
    CHECK(part.wanted == seen + 1);
    CHECK(part.wanted <= http_sniff_bound);
  }
}
