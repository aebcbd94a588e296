#include "support/broken_requests.hpp"

#include "detour/admin/admin_client.hpp"
#include "detour/admin/admin_error.hpp"

#include <sys/socket.h>

#include <random>
#include <string>
#include <system_error>

namespace detour::test {

void send_until_refused(int fd, std::string_view bytes) {
  try {
    send_all(fd, bytes, 10s);
  } catch (const std::system_error&) {
  }
}

received raw_exchange(const endpoint& to, std::string_view bytes) {
  auto s = connect_to(to);
  send_until_refused(s.get(), bytes);
  ::shutdown(s.get(), SHUT_WR);
  return read_until_eof(s.get(), 10s);
}

bool answers_healthz(const endpoint& to) {
  try {
    auto res = admin::http_request(to, boost::beast::http::verb::get, "/healthz");
    return res.result() == boost::beast::http::status::ok && res.body() == "ok\n";
  } catch (const admin::admin_error&) {
    return false;
  }
}

broken_requests_outcome send_broken_requests(const endpoint& to, int count) {
  std::mt19937 random(9);
  broken_requests_outcome outcome;
  const std::string huge_header = "GET / HTTP/1.1\r\nX-Huge: " + std::string(1024 * 1024, 'h') + "\r\n\r\n";
  for (int i = 0; i < count; ++i) {
    std::string bytes;
    switch (i % 5) {
      case 0:
        bytes.resize(1 + random() % 2048);
        for (auto& c : bytes) c = static_cast<char>(random());
        break;
      case 1:
        bytes = "GET /stats\r\nHost: x\r\n\r\n";
        break;
      case 2:
        bytes = "\r\n\r\nGET / HTTP/9.9\r\n\r\n";
        break;
      case 3:
        bytes = "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n";
        break;
      default:
        // A megabyte only every 20th time: the point is the bound, not the loopback's bandwidth.
        bytes = i % 20 == 4 ? huge_header : "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n";
    }
    auto got = raw_exchange(to, bytes);
    if (got.end == stream_end::timeout) ++outcome.hung;
    if (got.bytes.starts_with("HTTP/1.1 4")) ++outcome.answered_4xx;
  }
  return outcome;
}

}  // namespace detour::test
