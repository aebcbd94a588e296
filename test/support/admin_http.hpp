#pragma once
// The admin endpoint as the tests reach it: the fake backend behind a real admin_server on an
// ephemeral loopback port, and requests to it.
#include "detour/admin/admin_client.hpp"
#include "detour/admin/admin_handler.hpp"
#include "detour/admin/admin_server.hpp"
#include "support/fake_admin_backend.hpp"

#include <boost/beast/http/verb.hpp>

#include <string_view>

namespace detour::test {

inline constexpr std::string_view test_status_page = "<!doctype html><title>detour</title><p>status</p>\n";

// A started admin_server on 127.0.0.1, port 0, over a fake_admin_backend. Call enter_new_netns()
// first.
struct served_admin {
  served_admin();

  fake_admin_backend backend;
  admin::admin_server server;

  admin::response request(boost::beast::http::verb method, std::string_view target) const;
  admin::response get(std::string_view target) const { return request(boost::beast::http::verb::get, target); }
};

}  // namespace detour::test
