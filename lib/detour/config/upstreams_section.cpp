#include "detour/config/upstreams_section.hpp"

#include "detour/config/bounded_file.hpp"
#include "detour/config/config_limits.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace detour::config_detail {

std::optional<boost::asio::ip::tcp::endpoint> parse_server_address(std::string_view text, std::string* why) {
  auto bad = [&] {
    if (why) {
      *why = fmt::format("\"{}\" is not an address with a port, such as 192.0.2.1:1080 or [2001:db8::1]:1080", text);
    }
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return bad();
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.find(':');
    // A second colon means a bare IPv6 address, whose last group would be mistaken for a port.
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) return bad();
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  unsigned port = 0;
  auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec || port_text.empty() || perr != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return bad();
  }
  if (!text.empty() && text.front() == '[' && address.is_v4()) return bad();
  return boost::asio::ip::tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

proxy_protocol_version read_proxy_protocol(std::string_view source, const YAML::Node& node, std::string_view key) {
  auto text = read_string(source, node, key);
  if (text == "v1") return proxy_protocol_version::v1;
  if (text == "v2") return proxy_protocol_version::v2;
  fail(source, node.Mark(), key, fmt::format("expected v1 or v2, got \"{}\"", text));
}

namespace {

bool valid_upstream_name(const std::string& name) {
  if (name.empty() || name.size() > config_limits::name_bytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string read_password_file(std::string_view source, const YAML::Node& node, const std::string& key) {
  auto path = read_string(source, node, key);
  if (path.empty() || path.front() != '/') {
    // detourd usually runs from / under systemd; a relative path would silently mean something else.
    fail(source, node.Mark(), key, fmt::format("\"{}\" is not an absolute path", path));
  }
  check_length(source, node.Mark(), key, path, config_limits::path_bytes);
  std::string password;
  try {
    password = read_bounded_file(path, config_limits::password_file_bytes);
  } catch (const config_error& e) {
    fail(source, node.Mark(), key, e.what());
  }
  // Editors and `echo secret > file` add a final newline that is not part of the password.
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) fail(source, node.Mark(), key, fmt::format("{} is empty", path));
  return password;
}

std::string read_password_env(std::string_view source, const YAML::Node& node, const std::string& key) {
  auto name = read_string(source, node, key);
  // Config is read before any worker thread exists, and nothing in detourd calls setenv.
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) fail(source, node.Mark(), key, fmt::format("environment variable {} is not set", name));
  if (*value == '\0') fail(source, node.Mark(), key, fmt::format("environment variable {} is empty", name));
  const std::string_view text(value);
  if (text.size() > config_limits::string_bytes) {
    fail(source, node.Mark(), key,
         fmt::format("environment variable {} is {} bytes, over the limit of {}", name, text.size(),
                     config_limits::string_bytes));
  }
  return std::string(text);
}

upstream_config read_upstream(std::string_view source, const YAML::Node& node, const std::string& name,
                              std::chrono::milliseconds default_timeout) {
  auto prefix = "upstreams." + name;
  if (!node.IsMap()) fail(source, node.Mark(), prefix, "expected a mapping with kind and servers");
  mapping m(source, node, prefix);
  upstream_config out;
  out.name = name;
  out.connect_timeout = default_timeout;

  auto kind = m.take("kind");
  if (!kind) fail(source, node.Mark(), prefix, "needs kind: socks5, http or forward");
  auto kind_text = read_string(source, *kind, m.key_path("kind"));
  if (kind_text == "socks5") {
    out.kind = upstream_kind::socks5;
  } else if (kind_text == "http") {
    out.kind = upstream_kind::http;
  } else if (kind_text == "forward") {
    out.kind = upstream_kind::forward;
  } else {
    fail(source, kind->Mark(), m.key_path("kind"),
         fmt::format("expected socks5, http or forward, got \"{}\"", kind_text));
  }
  const bool forward = out.kind == upstream_kind::forward;

  auto read_server = [&](const YAML::Node& item, const std::string& path) {
    auto text = read_string(source, item, path);
    std::string why;
    auto endpoint = parse_server_address(text, &why);
    if (!endpoint) fail(source, item.Mark(), path, why);
    return *endpoint;
  };
  auto address = m.take("address");
  auto servers = m.take("servers");
  if (address && servers) fail(source, servers->Mark(), m.key_path("servers"), "set address or servers, not both");
  if (address) out.servers.push_back(read_server(*address, m.key_path("address")));
  if (servers) {
    out.servers = read_list<boost::asio::ip::tcp::endpoint>(source, *servers, m.key_path("servers"), read_server,
                                                            config_limits::list_entries);
  }
  if (out.servers.empty()) fail(source, node.Mark(), prefix, "needs address or servers (at least one)");

  auto username = m.take("username");
  if (username && forward) {
    // Nothing in a forward connection could carry them: the server gets the client's bytes as is.
    fail(source, username->Mark(), m.key_path("username"),
         "kind forward has no authentication (it relays the stream as is)");
  }
  if (username) out.username = read_string(source, *username, m.key_path("username"));
  std::optional<YAML::Node> password_node;
  std::string password_key;
  for (const char* key : {"password", "password_file", "password_env"}) {
    auto v = m.take(key);
    if (!v) continue;
    if (password_node) {
      fail(source, v->Mark(), m.key_path(key), "set only one of password, password_file and password_env");
    }
    password_node = v;
    password_key = m.key_path(key);
    if (forward)
      fail(source, v->Mark(), password_key, "kind forward has no authentication (it relays the stream as is)");
  }
  if (password_node) {
    if (password_key.ends_with(".password_file")) {
      out.password = read_password_file(source, *password_node, password_key);
    } else if (password_key.ends_with(".password_env")) {
      out.password = read_password_env(source, *password_node, password_key);
    } else {
      out.password = read_string(source, *password_node, password_key);
    }
    if (out.username.empty()) fail(source, password_node->Mark(), password_key, "needs a username");
  }
  if (username && out.username.empty()) fail(source, username->Mark(), m.key_path("username"), "is empty");
  if (out.kind == upstream_kind::socks5) {
    // RFC 1929 carries each as one length byte and the bytes.
    constexpr auto most = config_limits::socks5_credential_bytes;
    if (out.username.size() > most) {
      fail(source, username->Mark(), m.key_path("username"),
           fmt::format("is {} bytes long; SOCKS5 allows at most {}", out.username.size(), most));
    }
    if (out.password.size() > most) {
      fail(source, password_node->Mark(), password_key,
           fmt::format("is {} bytes long; SOCKS5 allows at most {}", out.password.size(), most));
    }
  } else if (out.username.find(':') != std::string::npos) {
    // Basic auth joins them as user:password; a colon in the user name cannot be told apart.
    fail(source, username->Mark(), m.key_path("username"), "must not contain ':' (HTTP Basic authentication)");
  }

  if (auto v = m.take("proxy_protocol")) {
    if (!forward) {
      // The proxy would read the header as the start of its own handshake and refuse it.
      fail(source, v->Mark(), m.key_path("proxy_protocol"),
           fmt::format("is for kind forward only, not {}", to_string(out.kind)));
    }
    out.proxy_protocol = read_proxy_protocol(source, *v, m.key_path("proxy_protocol"));
  }
  if (auto v = m.take("resolve")) {
    auto text = read_string(source, *v, m.key_path("resolve"));
    if (text == "local") {
      out.resolve = name_resolution::local;
    } else if (text == "remote") {
      out.resolve = name_resolution::remote;
    } else {
      fail(source, v->Mark(), m.key_path("resolve"), fmt::format("expected local or remote, got \"{}\"", text));
    }
    if (forward && out.resolve == name_resolution::remote) {
      fail(source, v->Mark(), m.key_path("resolve"),
           "remote needs a proxy that connects by name (socks5 or http), not forward");
    }
  }
  if (auto v = m.take("connect_timeout")) {
    out.connect_timeout = read_duration(source, *v, m.key_path("connect_timeout"));
    if (out.connect_timeout.count() == 0) {
      fail(source, v->Mark(), m.key_path("connect_timeout"), "must be longer than 0ms");
    }
  }
  m.finish();
  return out;
}

}  // namespace

void read_upstreams(std::string_view source, const YAML::Node& node, std::chrono::milliseconds default_timeout,
                    std::vector<upstream_config>& out) {
  out.clear();
  if (node.IsNull()) return;
  if (!node.IsMap()) fail(source, node.Mark(), "upstreams", "expected a mapping of names to upstreams");
  // Each is a metrics label set and a name every route lookup compares against.
  check_entries(source, node, "upstreams", config_limits::upstreams);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) fail(source, it->first.Mark(), "upstreams", "expected a name");
    const auto& name = it->first.Scalar();
    if (!valid_upstream_name(name)) {
      fail(source, it->first.Mark(), "upstreams",
           fmt::format("\"{}\" is not a valid upstream name (letters, digits, _, - or ., at most {})", name,
                       config_limits::name_bytes));
    }
    if (std::any_of(out.begin(), out.end(), [&](const upstream_config& u) { return u.name == name; })) {
      fail(source, it->first.Mark(), "upstreams." + name, "appears twice");
    }
    out.push_back(read_upstream(source, it->second, name, default_timeout));
  }
}

}  // namespace detour::config_detail
