#include "detour/config/config.hpp"

#include "detour/config/intercept_section.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <spdlog/common.h>

#include <fstream>
#include <sstream>

namespace detour {

using namespace config_detail;

std::string_view to_string(mode m) {
  switch (m) {
    case mode::direct: return "direct";
    case mode::echo: return "echo";
    case mode::reject: return "reject";
  }
  return "?";
}

std::optional<mode> parse_mode(std::string_view text) {
  if (text == "direct") return mode::direct;
  if (text == "echo") return mode::echo;
  if (text == "reject") return mode::reject;
  return std::nullopt;
}

namespace {

void read_log(std::string_view source, const YAML::Node& node, config& out) {
  mapping log(source, node, "log");
  if (auto v = log.take("level")) {
    auto text = read_string(source, *v, "log.level");
    if (spdlog::level::from_str(text) == spdlog::level::off && text != "off") {
      fail(source, v->Mark(), "log.level",
           fmt::format("expected one of trace, debug, info, warn, error, critical, off, got \"{}\"", text));
    }
    out.log_level = text;
  }
  log.finish();
}

}  // namespace

config parse_config(std::string_view yaml_text, std::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    fail(source_name, e.mark, "YAML", e.msg);
  }
  config out;
  mapping top(source_name, root, "");
  if (auto v = top.take("mode")) {
    auto text = read_string(source_name, *v, "mode");
    auto m = parse_mode(text);
    if (!m) fail(source_name, v->Mark(), "mode", fmt::format("expected direct, echo or reject, got \"{}\"", text));
    out.mode = *m;
  }
  if (auto v = top.take("port")) out.port = static_cast<std::uint16_t>(read_int(source_name, *v, "port", 1, 65535));
  if (auto v = top.take("workers")) {
    if (v->IsScalar() && v->Scalar() == "auto") {
      out.workers = 0;
    } else {
      out.workers = static_cast<unsigned>(read_int(source_name, *v, "workers", 1, 1024));
    }
  }
  if (auto v = top.take("mark")) out.mark = static_cast<std::uint32_t>(read_int(source_name, *v, "mark", 0, 0xffffffff));
  if (auto v = top.take("connect_timeout")) {
    out.connect_timeout = read_duration(source_name, *v, "connect_timeout");
    if (out.connect_timeout.count() == 0) fail(source_name, v->Mark(), "connect_timeout", "must be longer than 0ms");
  }
  if (auto v = top.take("idle_timeout")) out.idle_timeout = read_duration(source_name, *v, "idle_timeout");
  if (auto v = top.take("drain_timeout")) out.drain_timeout = read_duration(source_name, *v, "drain_timeout");
  if (auto v = top.take("log")) read_log(source_name, *v, out);
  if (auto v = top.take("intercept")) read_intercept(source_name, *v, out.intercept);
  top.finish();
  return out;
}

config load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw config_error(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string());
}

config default_config() { return parse_config(embedded_default_config(), "(embedded default config)"); }

}  // namespace detour
