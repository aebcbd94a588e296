#include "detour/admin/admin_client.hpp"

#include "detour/admin/admin_error.hpp"
#include "detour/admin/printers.hpp"
#include "detour/config/upstreams_section.hpp"
#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <exception>
#include <functional>

namespace detour::admin {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using reply = http::response<http::string_body>;
using boost::asio::ip::tcp;

constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// The system's reason, or for the deadline, how long the client waited.
std::string reason(const boost::system::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) return fmt::format("no answer within {}ms", timeout.count());
  return ec.message();
}

boost::asio::awaitable<reply> exchange(tcp::endpoint to, http::verb method, std::string target,
                                       std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await boost::asio::this_coro::executor);
  stream.expires_after(timeout);
  auto where = net::to_string(to);
  if (auto [ec] = co_await stream.async_connect(to, use_tuple); ec) {
    throw admin_error(fmt::format("cannot reach the admin endpoint at {}: {}", where, reason(ec, timeout)));
  }
  http::request<http::empty_body> req{method, target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, "detourd");
  req.keep_alive(false);
  auto [write_error, written] = co_await http::async_write(stream, req, use_tuple);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  // A connection table of a busy proxy is large, but not this large.
  parser.body_limit(std::uint64_t{64} * 1024 * 1024);
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (write_error || read_error) {
    throw admin_error(fmt::format("the admin endpoint at {} did not answer: {}", where,
                                  reason(write_error ? write_error : read_error, timeout)));
  }
  co_return parser.release();
}

// Percent-encodes all but the unreserved characters (RFC 3986): route names may hold spaces.
std::string query_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

int fail(std::ostream& err, std::string_view command, std::string_view message) {
  err << "detourd " << command << ": " << message << "\n";
  return 1;
}

// One exchange for `detourd COMMAND`; nullopt once why it failed is on `err`.
std::optional<reply> exchange_for(std::string_view command, const admin_target& where, http::verb method,
                                  const std::string& target, std::ostream& err) {
  if (!where.endpoint) {
    fail(err, command,
         fmt::format("the admin endpoint is off ({}); set it, or pass --admin ADDRESS:PORT", where.origin));
    return std::nullopt;
  }
  try {
    return http_request(*where.endpoint, method, target);
  } catch (const admin_error& e) {
    fail(err, command, fmt::format("{} (is detourd running? {})", e.what(), where.origin));
    return std::nullopt;
  }
}

std::string unexpected_status(const admin_target& where, const reply& res) {
  auto body = res.body();
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return fmt::format("the admin endpoint at {} answered {} {}: {}", net::to_string(*where.endpoint), res.result_int(),
                     std::string(res.reason()), body);
}

std::string not_its_json(const admin_target& where, std::string_view target, const std::exception& e) {
  return fmt::format("the admin endpoint at {} answered {} with what is not its JSON: {}",
                     net::to_string(*where.endpoint), target, e.what());
}

// Fetches `target` as JSON and hands it to `print`; every failure becomes one line on `err`.
int run_command(std::string_view command, const admin_target& where, const std::string& target, bool json,
                std::ostream& out, std::ostream& err, const std::function<void(const boost::json::object&)>& print) {
  auto res = exchange_for(command, where, http::verb::get, target, err);
  if (!res) return 1;
  if (res->result() != http::status::ok) return fail(err, command, unexpected_status(where, *res));
  if (json) {
    out << res->body();
    return 0;
  }
  try {
    print(boost::json::parse(res->body()).as_object());
  } catch (const std::exception& e) {
    return fail(err, command, not_its_json(where, target, e));
  }
  return 0;
}

}  // namespace

reply http_request(const tcp::endpoint& to, http::verb method, std::string_view target,
                   std::chrono::milliseconds timeout) {
  boost::asio::io_context context;
  auto done =
      boost::asio::co_spawn(context, exchange(to, method, std::string(target), timeout), boost::asio::use_future);
  context.run();
  return done.get();
}

admin_target find_admin(const config& c, std::string_view config_path,
                        const std::optional<std::string>& admin_override) {
  if (admin_override) {
    auto endpoint = config_detail::parse_server_address(*admin_override, nullptr);
    if (!endpoint) {
      throw admin_error(
          fmt::format("--admin: expected ADDRESS:PORT (127.0.0.1:15000, [::1]:15000), got \"{}\"", *admin_override));
    }
    return {endpoint, "--admin"};
  }
  auto file = config_path.empty() ? std::string("the built-in config") : std::string(config_path);
  return {c.admin.listen, "admin.listen in " + file};
}

int status_command(const admin_target& target, bool json, std::ostream& out, std::ostream& err) {
  return run_command("status", target, "/stats", json, out, err,
                     [&](const boost::json::object& stats) { print_status(stats, out); });
}

int connections_command(const admin_target& target, const std::optional<std::string>& route, bool json,
                        std::ostream& out, std::ostream& err) {
  auto path = route ? "/connections?route=" + query_escape(*route) : std::string("/connections");
  return run_command("connections", target, path, json, out, err,
                     [&](const boost::json::object& list) { print_connections(list, out); });
}

int reload_command(const admin_target& target, std::ostream& out, std::ostream& err) {
  auto res = exchange_for("reload", target, http::verb::post, "/reload", err);
  if (!res) return 1;
  const bool ok = res->result() == http::status::ok;
  if (!ok && res->result() != http::status::bad_request) return fail(err, "reload", unexpected_status(target, *res));
  std::string message;
  try {
    message = boost::json::value_to<std::string>(boost::json::parse(res->body()).at("message"));
  } catch (const std::exception& e) {
    return fail(err, "reload", not_its_json(target, "/reload", e));
  }
  if (!ok) return fail(err, "reload", message);
  out << message << "\n";
  return 0;
}

}  // namespace detour::admin
