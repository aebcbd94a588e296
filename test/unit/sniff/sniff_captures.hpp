#pragma once
// The real first flights in captures/ (see captures/README.md), and a ClientHello taken apart so
// the tests can make what no client here sends: no server_name, fragments, oversized hellos.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace detour::test {

inline std::string sniff_capture(std::string_view file) {
  auto path = std::filesystem::path(DETOUR_SOURCE_DIR) / "test/unit/sniff/captures" / file;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(path);
  REQUIRE(!bytes.empty());
  return bytes;
}

inline std::string be16(std::size_t value) {
  return {static_cast<char>((value >> 8U) & 0xffU), static_cast<char>(value & 0xffU)};
}

inline std::uint16_t read16(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[at]) << 8U |
                                    static_cast<unsigned char>(bytes[at + 1]));
}

// The extension_data of a server_name extension holding one host_name.
inline std::string server_name_data(std::string_view name) {
  return be16(name.size() + 3) + '\0' + be16(name.size()) + std::string(name);
}

// A ClientHello that arrived in one record, split into the fields before its extensions and the
// extensions in their order, and put back together as one record or several.
struct client_hello {
  std::string record_version;  // the record header's two version bytes
  std::string head;            // legacy_version up to and including compression_methods
  std::vector<std::pair<std::uint16_t, std::string>> extensions;

  static client_hello parse(std::string_view record) {
    REQUIRE(record.size() > 9);
    REQUIRE(record[0] == 0x16);
    REQUIRE(record[5] == 0x01);
    REQUIRE(std::size_t{read16(record, 3)} + 5 == record.size());
    auto body = record.substr(9);
    std::size_t at = 2 + 32;
    at += 1 + std::size_t{static_cast<unsigned char>(body[at])};
    at += 2 + std::size_t{read16(body, at)};
    at += 1 + std::size_t{static_cast<unsigned char>(body[at])};
    client_hello out{std::string(record.substr(1, 2)), std::string(body.substr(0, at)), {}};
    REQUIRE(std::size_t{read16(body, at)} + at + 2 == body.size());
    for (at += 2; at < body.size();) {
      auto type = read16(body, at);
      auto size = read16(body, at + 2);
      out.extensions.emplace_back(type, std::string(body.substr(at + 4, size)));
      at += 4 + std::size_t{size};
    }
    return out;
  }

  std::string* extension(std::uint16_t type) {
    auto it = std::find_if(extensions.begin(), extensions.end(), [&](const auto& e) { return e.first == type; });
    return it == extensions.end() ? nullptr : &it->second;
  }
  void remove(std::uint16_t type) {
    std::erase_if(extensions, [&](const auto& e) { return e.first == type; });
  }

  // The handshake message: type, 24-bit length, body.
  std::string handshake() const {
    std::string block;
    for (const auto& [type, data] : extensions) block += be16(type) + be16(data.size()) + data;
    auto body = head + be16(block.size()) + block;
    return std::string("\x01", 1) + static_cast<char>((body.size() >> 16U) & 0xffU) + be16(body.size()) + body;
  }

  // The handshake in records of the given fragment sizes in turn, the last record taking the rest.
  std::string records(const std::vector<std::size_t>& fragments = {}) const {
    auto message = handshake();
    std::string out;
    std::size_t at = 0;
    for (std::size_t i = 0; at < message.size(); ++i) {
      auto size = i < fragments.size() ? std::min(fragments[i], message.size() - at) : message.size() - at;
      out += "\x16" + record_version + be16(size) + message.substr(at, size);
      at += size;
    }
    return out;
  }
};

}  // namespace detour::test
