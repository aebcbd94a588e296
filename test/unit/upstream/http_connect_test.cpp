#include "detour/upstream/http_connect.hpp"

#include <catch2/catch.hpp>

using namespace detour::upstream;

namespace {

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

}  // namespace

TEST_CASE("the CONNECT request names the target in the request line and Host", "[upstream]") {
  CHECK(http_connect_request(ep("93.184.216.34", 443), "", "") ==
        "CONNECT 93.184.216.34:443 HTTP/1.1\r\nHost: 93.184.216.34:443\r\n\r\n");
  CHECK(http_connect_request(ep("2001:db8::1", 80), "", "") ==
        "CONNECT [2001:db8::1]:80 HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n");
  CHECK(http_connect_request(ep("::ffff:10.0.0.1", 80), "", "") ==
        "CONNECT 10.0.0.1:80 HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n");
  CHECK(http_connect_request("example.com", 443, "Aladdin", "open sesame") ==
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
        "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST_CASE("base64 pads to whole groups", "[upstream]") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("\xff\xfe\xfd\xfc") == "//79/A==");
}

TEST_CASE("any 2xx CONNECT answer is success and the bytes after the head are kept", "[upstream]") {
  std::string head = "HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n";
  for (std::size_t n = 0; n < head.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK(parse_http_connect_response(head.substr(0, n)).status == parse_result::state::need_more);
  }
  CHECK(parse_http_connect_response(head).consumed == head.size());
  CHECK(parse_http_connect_response(head + "SSH-2.0-server\r\n").consumed == head.size());
  CHECK(parse_http_connect_response("HTTP/1.0 200 Connection established\r\n\r\n").consumed == 39);
  CHECK(parse_http_connect_response("HTTP/1.1 204\r\n\r\n").consumed == 16);
  CHECK(parse_http_connect_response("HTTP/1.1 299 Whatever\nA: b\n\n").consumed == 28);
}

TEST_CASE("a non-2xx CONNECT answer names its status as soon as the status line is in", "[upstream]") {
  auto error = [](const std::string& text) { return parse_http_connect_response(text).error; };
  CHECK(error("HTTP/1.1 407 Proxy Authentication Required\r\n") == "http: 407 proxy authentication required");
  CHECK(error("HTTP/1.0 403 Access violation\r\n") == "http: 403 forbidden");
  CHECK(error("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\nerror") == "http: 502 bad gateway");
  CHECK(error("HTTP/1.1 503 Service Unavailable\r\n") == "http: 503 service unavailable");
  CHECK(error("HTTP/1.1 504 Gateway Time-out\r\n") == "http: 504 gateway timeout");
  CHECK(error("HTTP/1.1 302 Found\r\n") == "http: 302 found");
  CHECK(error("HTTP/1.1 599 Weird\x01\xff Thing\r\n") == "http: 599 weird thing");
  CHECK(error("HTTP/1.1 100\r\n") == "http: 100");
}

TEST_CASE("a malformed, foreign or oversized CONNECT answer is an error, never a wait", "[upstream]") {
  auto error = [](const std::string& text) { return parse_http_connect_response(text).error; };
  CHECK(error("\x05\x00") == "http: not an HTTP response from the proxy");
  CHECK(error("HTTP/2 200\r\n") == "http: not an HTTP response from the proxy");
  CHECK(error("SSH-2.0-OpenSSH\r\n") == "http: not an HTTP response from the proxy");
  CHECK(error("HTTP/1.1 20\r\n") == "http: malformed status line from the proxy");
  CHECK(error("HTTP/1.1 2000 OK\r\n") == "http: malformed status line from the proxy");
  CHECK(error("HTTP/1.1  200 OK\r\n") == "http: malformed status line from the proxy");
  CHECK(error("HTTP/1.9 200 OK\r\n") == "http: malformed status line from the proxy");
  CHECK(error("HTTP/1.1 200 OK\r\n" + std::string(http_max_response_head, 'a')) ==
        "http: response head longer than 16384 bytes");
  CHECK(error("HTTP/1.1 200 " + std::string(http_max_response_head, 'a')) ==
        "http: response head longer than 16384 bytes");
  CHECK(parse_http_connect_response("HTTP/1.1 200 OK\r\n" + std::string(1000, 'a')).status ==
        parse_result::state::need_more);
}
