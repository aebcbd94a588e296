// The admin endpoint over real sockets, with a fake backend behind it: what each endpoint answers,
// and that no client, however broken, slow or numerous, stops it from answering the next one.
#include "detour/admin/admin_error.hpp"
#include "support/admin_http.hpp"
#include "support/broken_requests.hpp"
#include "support/deadline.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>

using namespace detour::test;
namespace http = boost::beast::http;

namespace {

std::string header(const detour::admin::response& res, http::field field) { return std::string(res[field]); }

bool healthy(const served_admin& admin) { return answers_healthz(admin.server.local_endpoint()); }

}  // namespace

TEST_CASE("every admin endpoint answers with its status, content type and body", "[admin]") {
  enter_new_netns();
  served_admin admin;
  struct expectation {
    const char* target;
    const char* content_type;
    std::string body;
  };
  for (const auto& e : std::vector<expectation>{
           {"/", "text/html; charset=utf-8", std::string(test_status_page)},
           {"/metrics", "text/plain; version=0.0.4; charset=utf-8", fake_admin_backend::metrics},
           {"/healthz", "text/plain; charset=utf-8", "ok\n"},
           {"/ready", "text/plain; charset=utf-8", "ready\n"},
           {"/stats", "application/json", boost::json::serialize(fake_admin_backend::stats_document()) + "\n"},
           {"/config", "application/yaml; charset=utf-8", fake_admin_backend::config},
           {"/rules", "text/plain; charset=utf-8", fake_admin_backend::rules},
       }) {
    INFO(e.target);
    auto res = admin.get(e.target);
    CHECK(res.result() == http::status::ok);
    CHECK(header(res, http::field::content_type) == e.content_type);
    CHECK(res.body() == e.body);
  }

  auto list = admin.get("/connections");
  CHECK(list.result() == http::status::ok);
  CHECK(header(list, http::field::content_type) == "application/json");
  CHECK(list.body().ends_with("}\n"));
  CHECK(boost::json::parse(list.body()).at("connections").as_array().size() == 3);

  admin.backend.set_ready(false);
  auto starting = admin.get("/ready");
  CHECK(starting.result() == http::status::service_unavailable);
  CHECK(starting.body() == "not ready\n");
}

TEST_CASE("the admin endpoint hands ?route= to the backend, decoded, and refuses a broken query", "[admin]") {
  enter_new_netns();
  served_admin admin;

  auto all = admin.get("/connections");
  CHECK(admin.backend.last_route_filter() == std::nullopt);
  CHECK(boost::json::parse(all.body()).at("connections").as_array().size() == 3);

  auto one = admin.get("/connections?route=route%202");
  CHECK(admin.backend.last_route_filter() == std::optional<std::string>("route 2"));
  auto parsed = boost::json::parse(one.body());
  const auto& listed = parsed.at("connections").as_array();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("id").to_number<int>() == 19);

  auto calls = admin.backend.connections_calls();
  auto broken = admin.get("/connections?route=%zz");
  CHECK(broken.result() == http::status::bad_request);
  CHECK(broken.body() == "{\"error\":\"malformed query string\"}\n");
  CHECK(admin.backend.connections_calls() == calls);
}

TEST_CASE("DELETE /connections/ID resets a live connection once, then it is gone", "[admin]") {
  enter_new_netns();
  served_admin admin;

  auto reset = admin.request(http::verb::delete_, "/connections/17");
  CHECK(reset.result() == http::status::ok);
  CHECK(header(reset, http::field::content_type) == "application/json");
  CHECK(reset.body() == "{\"reset\":17}\n");
  CHECK(admin.backend.live_ids() == std::vector<std::uint64_t>{18, 19});
  CHECK(boost::json::parse(admin.get("/connections").body()).at("connections").as_array().size() == 2);

  auto again = admin.request(http::verb::delete_, "/connections/17");
  CHECK(again.result() == http::status::not_found);
  CHECK(again.body() == "{\"error\":\"no live connection with id 17\"}\n");

  for (const char* bad : {"/connections/abc", "/connections/", "/connections/-1", "/connections/1x",
                          "/connections/99999999999999999999999"}) {
    INFO(bad);
    auto res = admin.request(http::verb::delete_, bad);
    CHECK(res.result() == http::status::bad_request);
  }
  CHECK(admin.request(http::verb::delete_, "/connections/abc").body() ==
        "{\"error\":\"connection id \\\"abc\\\" is not a number\"}\n");
  CHECK(admin.backend.live_ids() == std::vector<std::uint64_t>{18, 19});
}

TEST_CASE("POST /reload answers 200 with the backend's message, or 400 with why nothing changed", "[admin]") {
  enter_new_netns();
  served_admin admin;

  auto ok = admin.request(http::verb::post, "/reload");
  CHECK(ok.result() == http::status::ok);
  CHECK(header(ok, http::field::content_type) == "application/json");
  CHECK(ok.body() == "{\"result\":\"ok\",\"message\":\"reloaded\"}\n");
  CHECK(admin.backend.reload_calls() == 1);

  admin.backend.set_reload_result({false, "/etc/detour.yaml:3:7: port: `port` changes need a restart"});
  auto refused = admin.request(http::verb::post, "/reload");
  CHECK(refused.result() == http::status::bad_request);
  CHECK(refused.body() ==
        "{\"result\":\"error\",\"message\":\"/etc/detour.yaml:3:7: port: `port` changes need a restart\"}\n");
  CHECK(admin.backend.reload_calls() == 2);
}

TEST_CASE("/reload refuses every method but POST with 405 and Allow: POST, and does not reload", "[admin]") {
  enter_new_netns();
  served_admin admin;

  for (auto method : {http::verb::get, http::verb::put, http::verb::delete_}) {
    INFO(http::to_string(method));
    auto res = admin.request(method, "/reload");
    CHECK(res.result() == http::status::method_not_allowed);
    CHECK(header(res, http::field::allow) == "POST");
    CHECK(res.body() == "{\"error\":\"/reload needs POST\"}\n");
  }
  CHECK(admin.backend.reload_calls() == 0);
}

TEST_CASE("unknown paths, wrong methods and malformed requests get a one-line JSON error", "[admin]") {
  enter_new_netns();
  served_admin admin;

  auto missing = admin.get("/nope");
  CHECK(missing.result() == http::status::not_found);
  CHECK(header(missing, http::field::content_type) == "application/json");
  CHECK(missing.body() == "{\"error\":\"no such endpoint: /nope\"}\n");

  auto post = admin.request(http::verb::post, "/metrics");
  CHECK(post.result() == http::status::method_not_allowed);
  CHECK(header(post, http::field::allow) == "GET");
  CHECK(post.body() == "{\"error\":\"/metrics needs GET\"}\n");

  auto get_one = admin.get("/connections/17");
  CHECK(get_one.result() == http::status::method_not_allowed);
  CHECK(header(get_one, http::field::allow) == "DELETE");
  CHECK(admin.backend.live_ids().size() == 3);

  auto no_version = raw_exchange(admin.server.local_endpoint(), "GET /healthz\r\n\r\n");
  CHECK(no_version.bytes.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(no_version.bytes.ends_with("\r\n\r\n{\"error\":\"malformed request\"}\n"));

  auto big_body =
      raw_exchange(admin.server.local_endpoint(),
                   "DELETE /connections/17 HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'x'));
  CHECK(big_body.bytes.starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
  CHECK(admin.backend.live_ids().size() == 3);

  auto big_header = raw_exchange(admin.server.local_endpoint(),
                                 "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n");
  CHECK(big_header.bytes.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

TEST_CASE("the admin endpoint keeps a connection alive for the next request", "[admin]") {
  enter_new_netns();
  served_admin admin;
  auto got = raw_exchange(admin.server.local_endpoint(),
                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(got.end == stream_end::eof);
  auto first = got.bytes.find("\r\n\r\nok\n");
  auto second = got.bytes.find("\r\n\r\nready\n", first);
  auto third = got.bytes.find("\r\n\r\nok\n", second);
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(third != std::string::npos);
}

TEST_CASE("1000 garbage and oversized requests leave the admin endpoint answering", "[admin]") {
  enter_new_netns();
  served_admin admin;
  auto outcome = send_broken_requests(admin.server.local_endpoint(), 1000);
  CHECK(outcome.hung == 0);
  // Every request but some random ones is recognisably broken, and is told so.
  CHECK(outcome.answered_4xx >= 800);
  CHECK(healthy(admin));
}

TEST_CASE("a client sending a byte a second is closed by the deadline while others are served", "[admin]") {
  enter_new_netns();
  served_admin admin;
  auto start = test_clock::now();
  auto slow = connect_to(admin.server.local_endpoint());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: slow\r\n\r\n";
  bool closed = false;
  for (std::size_t i = 0; i < 10 && !closed; ++i) {
    send_until_refused(slow.get(), request.substr(i, 1));
    // Waits for the server's close, a second at most, before the next byte.
    pollfd p{slow.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      char c = 0;
      closed = ::recv(slow.get(), &c, 1, 0) <= 0;
    }
    if (i == 1) CHECK(healthy(admin));
  }
  auto held = test_clock::now() - start;
  CHECK(closed);
  CHECK(held >= 4500ms);
  CHECK(held <= 6500ms);
  CHECK(healthy(admin));
}

TEST_CASE("connections beyond the cap are closed at once, and the endpoint answers once they go", "[admin]") {
  enter_new_netns();
  served_admin admin;
  constexpr std::size_t opened = 100;
  constexpr std::size_t cap = detour::admin::server_limits{}.max_connections;
  std::vector<socket_fd> clients;
  for (std::size_t i = 0; i < opened; ++i) clients.push_back(connect_to(admin.server.local_endpoint()));

  // The ones over the cap see the server's FIN; the others are held until their deadline (5 s).
  std::vector<pollfd> fds;
  for (const auto& c : clients) fds.push_back({c.get(), POLLIN, 0});
  std::size_t closed = 0;
  auto deadline = test_clock::now() + 3s;
  while (closed < opened - cap && test_clock::now() < deadline) {
    if (::poll(fds.data(), fds.size(), remaining_ms(deadline)) <= 0) break;
    for (auto& p : fds) {
      if (p.revents == 0) continue;
      ++closed;
      p.fd = -1;  // poll ignores it from now on
    }
  }
  CHECK(closed == opened - cap);
  CHECK_FALSE(healthy(admin));

  for (auto& c : clients) c.close();
  CHECK(poll_until([&] { return healthy(admin); }, 5s));
}

TEST_CASE("the admin server names its address when it cannot listen, and stops with clients held", "[admin]") {
  enter_new_netns();
  served_admin admin;
  auto taken = admin.server.local_endpoint();
  try {
    detour::admin::admin_server second(taken, admin.backend, "");
    FAIL("a second server bound the same port");
  } catch (const detour::admin::admin_error& e) {
    CHECK(std::string(e.what()) ==
          fmt::format("admin.listen 127.0.0.1:{}: bind: Address already in use", taken.port()));
  }

  auto held = connect_to(taken);
  CHECK(healthy(admin));
  auto start = test_clock::now();
  admin.server.stop();
  CHECK(test_clock::now() - start < 2s);
  CHECK(read_until_eof(held.get(), 2s).end != stream_end::timeout);
  CHECK_THROWS_AS(connect_to(taken, 2s), std::system_error);
}
