#include "detour/admin/admin_handler.hpp"

#include <fmt/format.h>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <array>
#include <charconv>
#include <exception>

namespace detour::admin {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view json_type = "application/json";
constexpr std::string_view text_type = "text/plain; charset=utf-8";

struct answer {
  http::status status = http::status::ok;
  std::string_view content_type = text_type;
  std::string body;
};

answer json_answer(const boost::json::object& body, http::status status = http::status::ok) {
  return {status, json_type, boost::json::serialize(body) + "\n"};
}

answer error_answer(http::status status, std::string_view message) {
  return json_answer(boost::json::object{{"error", message}}, status);
}

// A request target goes into an error message only as printable ASCII and not too long: it is
// whatever the client sent, and the message must stay one valid JSON line.
std::string printable(std::string_view text) {
  constexpr std::size_t most = 64;
  std::string out;
  for (char c : text.substr(0, most)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > most) out += "...";
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: %XX escapes and + for a space. nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      int high = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
      int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

// The value of `key` in a query string (the last one when repeated); a broken escape anywhere is
// the client's error, reported rather than half-understood.
struct query_lookup {
  std::optional<std::string> value;
  bool malformed = false;
};

query_lookup query_value(std::string_view query, std::string_view key) {
  query_lookup out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value) {
      out.malformed = true;
      return out;
    }
    if (*name == key) out.value = *value;
  }
  return out;
}

answer connections_answer(backend& b, std::string_view query) {
  auto route = query_value(query, "route");
  if (route.malformed) return error_answer(http::status::bad_request, "malformed query string");
  return json_answer(b.connections(connection_filter{route.value}));
}

std::optional<std::uint64_t> parse_id(std::string_view text) {
  std::uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return id;
}

answer reset_answer(backend& b, std::string_view id_text) {
  auto id = parse_id(id_text);
  if (!id) {
    return error_answer(http::status::bad_request,
                        fmt::format("connection id \"{}\" is not a number", printable(id_text)));
  }
  if (!b.reset_connection(*id)) {
    return error_answer(http::status::not_found, fmt::format("no live connection with id {}", *id));
  }
  return json_answer(boost::json::object{{"reset", *id}});
}

answer reload_answer(backend& b) {
  auto result = b.reload();
  return json_answer(boost::json::object{{"result", result.ok ? "ok" : "error"}, {"message", result.message}},
                     result.ok ? http::status::ok : http::status::bad_request);
}

using get_handler = answer (*)(backend&, std::string_view page, std::string_view query);

struct get_endpoint {
  std::string_view path;
  get_handler handler;
};

constexpr std::array<get_endpoint, 9> get_endpoints{{
    {"/",
     [](backend&, std::string_view page, std::string_view) {
       return answer{http::status::ok, "text/html; charset=utf-8", std::string(page)};
     }},
    {"/metrics",
     [](backend& b, std::string_view, std::string_view) {
       return answer{http::status::ok, "text/plain; version=0.0.4; charset=utf-8", b.metrics_text()};
     }},
    {"/healthz",
     [](backend&, std::string_view, std::string_view) {
       return answer{http::status::ok, text_type, "ok\n"};
     }},
    {"/ready",
     [](backend& b, std::string_view, std::string_view) {
       return b.ready() ? answer{http::status::ok, text_type, "ready\n"}
                        : answer{http::status::service_unavailable, text_type, "not ready\n"};
     }},
    {"/stats", [](backend& b, std::string_view, std::string_view) { return json_answer(b.stats()); }},
    {"/connections", [](backend& b, std::string_view, std::string_view query) { return connections_answer(b, query); }},
    {"/config",
     [](backend& b, std::string_view, std::string_view) {
       return answer{http::status::ok, "application/yaml; charset=utf-8", b.config_yaml()};
     }},
    {"/rules",
     [](backend& b, std::string_view, std::string_view) {
       return answer{http::status::ok, text_type, b.rules_text()};
     }},
    // The status page's icon request, answered so that a browser's console stays clean.
    {"/favicon.ico",
     [](backend&, std::string_view, std::string_view) {
       return answer{http::status::no_content, text_type, ""};
     }},
}};

constexpr std::string_view connection_prefix = "/connections/";

// 405 with the one method `path` accepts in Allow (RFC 9110 15.5.6 requires the header).
answer wrong_method(std::string_view path, std::string_view method, std::string& allow) {
  allow = method;
  return error_answer(http::status::method_not_allowed, fmt::format("{} needs {}", printable(path), method));
}

answer dispatch(backend& b, std::string_view page, const request& req, std::string& allow) {
  std::string_view target = req.target();
  auto question = target.find('?');
  auto path = target.substr(0, question);
  auto query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  if (path.starts_with(connection_prefix)) {
    if (req.method() != http::verb::delete_) return wrong_method(path, "DELETE", allow);
    return reset_answer(b, path.substr(connection_prefix.size()));
  }
  // POST, not GET: a reload changes what runs, and nothing that follows links or prefetches may
  // trigger it.
  if (path == "/reload") {
    if (req.method() != http::verb::post) return wrong_method(path, "POST", allow);
    return reload_answer(b);
  }
  for (const auto& endpoint : get_endpoints) {
    if (endpoint.path != path) continue;
    if (req.method() != http::verb::get) return wrong_method(path, "GET", allow);
    return endpoint.handler(b, page, query);
  }
  return error_answer(http::status::not_found, fmt::format("no such endpoint: {}", printable(path)));
}

response make_response(answer a, unsigned version, bool keep_alive) {
  response res{a.status, version};
  res.set(http::field::server, "detourd");
  res.set(http::field::content_type, a.content_type);
  // Every answer is live state; a cached one would show connections long gone.
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(a.body);
  res.prepare_payload();
  return res;
}

}  // namespace

response error_response(http::status status, std::string_view message, unsigned version, bool keep_alive) {
  return make_response(error_answer(status, message), version, keep_alive);
}

response handle(backend& b, std::string_view page, const request& req) {
  std::string allow;
  answer a;
  try {
    a = dispatch(b, page, req, allow);
  } catch (const std::exception& e) {
    a = error_answer(http::status::internal_server_error, fmt::format("internal error: {}", e.what()));
  }
  auto res = make_response(std::move(a), req.version(), req.keep_alive());
  if (!allow.empty()) res.set(http::field::allow, allow);
  return res;
}

}  // namespace detour::admin
