#pragma once
// The client side of the admin endpoint: one HTTP exchange, and the `detourd status`,
// `detourd connections` and `detourd reload` commands built on it.
#include "detour/config/config.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace detour::admin {

using namespace std::chrono_literals;

// One request on a fresh connection, the whole exchange bounded by `timeout`. Throws admin_error
// ("cannot reach the admin endpoint at 127.0.0.1:15000: Connection refused") when it cannot
// connect, or the exchange fails or times out.
boost::beast::http::response<boost::beast::http::string_body> http_request(const boost::asio::ip::tcp::endpoint& to,
                                                                           boost::beast::http::verb method,
                                                                           std::string_view target,
                                                                           std::chrono::milliseconds timeout = 5s);

// Where a command finds the admin endpoint, and where that address came from, for its errors.
struct admin_target {
  std::optional<boost::asio::ip::tcp::endpoint> endpoint;  // nullopt: admin.listen is off
  std::string origin;                                      // "admin.listen in FILE", "--admin"
};

// admin.listen of `c`, read from `config_path` (empty: the built-in config), unless `admin_override`
// (an --admin ADDRESS:PORT) is given; throws admin_error for a malformed override.
admin_target find_admin(const config& c, std::string_view config_path,
                        const std::optional<std::string>& admin_override);

// `detourd status` and `detourd connections`: print the summary or table (or the endpoint's JSON as
// it came, with `json`) to `out` and return 0; or say what went wrong on `err`, prefixed
// "detourd COMMAND: ", and return 1.
int status_command(const admin_target& target, bool json, std::ostream& out, std::ostream& err);
int connections_command(const admin_target& target, const std::optional<std::string>& route, bool json,
                        std::ostream& out, std::ostream& err);

// `detourd reload` through the admin endpoint: POST /reload; the message goes to `out` and the
// result is 0 when detourd reloaded, or the reason to `err` ("detourd reload: FILE:LINE:COL: ...")
// and 1 when it kept the running config or could not be asked.
int reload_command(const admin_target& target, std::ostream& out, std::ostream& err);

}  // namespace detour::admin
