#pragma once
#include "detour/admin/admin_backend.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace detour::admin {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

// The answer to one parsed request: which endpoint, which method, what the backend says. No I/O of
// its own, so the server's coroutine only moves bytes. A backend that throws gets a 500, never the
// server's end.
response handle(backend& b, std::string_view page, const request& req);

// An error answer: `status` with the one-line JSON body {"error":"MESSAGE"}.
response error_response(boost::beast::http::status status, std::string_view message, unsigned version, bool keep_alive);

}  // namespace detour::admin
