#include "detour/config/admin_section.hpp"

#include "detour/config/upstreams_section.hpp"
#include "detour/config/yaml_reader.hpp"
#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

namespace detour::config_detail {
namespace {

std::optional<boost::asio::ip::tcp::endpoint> read_listen(std::string_view source, const YAML::Node& node,
                                                          std::string_view key) {
  auto text = read_string(source, node, key);
  if (text == "off") return std::nullopt;
  auto endpoint = parse_server_address(text, nullptr);
  if (!endpoint) {
    fail(source, node.Mark(), key,
         fmt::format("expected ADDRESS:PORT (127.0.0.1:15000, [::1]:15000) or off, got \"{}\"", text));
  }
  return endpoint;
}

}  // namespace

void read_admin(std::string_view source, const YAML::Node& node, admin_config& out) {
  mapping m(source, node, "admin");
  auto listen = m.take("listen");
  if (listen) out.listen = read_listen(source, *listen, m.key_path("listen"));
  m.read("allow_remote", out.allow_remote, read_bool);
  m.finish();
  // Anyone who reaches the endpoint can reset connections and read the effective config, so
  // listening beyond this host has to be asked for.
  if (out.listen && !out.allow_remote && !net::unmap(out.listen->address()).is_loopback()) {
    fail(source, listen ? listen->Mark() : node.Mark(), m.key_path("listen"),
         fmt::format("{} is not a loopback address, and the admin endpoint can reset connections and show the "
                     "config; set admin.allow_remote: true to listen there",
                     net::to_string(*out.listen)));
  }
}

}  // namespace detour::config_detail
