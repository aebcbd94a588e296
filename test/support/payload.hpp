#pragma once
#include <boost/uuid/detail/sha1.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace detour::test {

// Incremental SHA-1, printed as 40 hex digits. Boost's is header-only and already a dependency;
// the tests need a hash that catches reordered, duplicated or lost bytes, not a secure one.
class sha1_hasher {
 public:
  void add(std::span<const char> bytes) {
    state_.process_bytes(bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  std::uint64_t size() const { return size_; }
  std::string hex() {
    boost::uuids::detail::sha1::digest_type digest;
    state_.get_digest(digest);
    return fmt::format("{:08x}{:08x}{:08x}{:08x}{:08x}", digest[0], digest[1], digest[2], digest[3], digest[4]);
  }

 private:
  boost::uuids::detail::sha1 state_;
  std::uint64_t size_ = 0;
};

inline std::string sha1_hex(std::string_view bytes) {
  sha1_hasher h;
  h.add(bytes);
  return h.hex();
}

// A deterministic pseudo-random byte stream of a given size: the same seed always gives the same
// bytes, different seeds give unrelated ones, so each connection of a test can carry its own
// payload and be checked by hash without keeping the bytes around (64 MiB streams are generated
// chunk by chunk). Any byte is computable from its offset (splitmix64 of seed and 8-byte block).
class payload {
 public:
  payload(std::uint64_t seed, std::uint64_t size) : seed_(seed), size_(size) {}

  std::uint64_t size() const { return size_; }

  // Fills `out` with the bytes at [offset, offset + out.size()), clipped to the payload's end;
  // returns how many were written.
  std::size_t fill(std::uint64_t offset, std::span<char> out) const {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ > offset ? size_ - offset : 0));
    std::uint64_t bits = block(offset / 8);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t at = offset + i;
      if (at % 8 == 0) bits = block(at / 8);
      out[i] = static_cast<char>(static_cast<unsigned char>(bits >> (8 * (at % 8))));
    }
    return n;
  }

  std::string bytes() const {
    std::string out(static_cast<std::size_t>(size_), '\0');
    fill(0, out);
    return out;
  }

  std::string sha1() const {
    sha1_hasher h;
    std::string chunk(64 * 1024, '\0');
    for (std::uint64_t offset = 0; offset < size_;) {
      auto n = fill(offset, chunk);
      h.add(std::span<const char>(chunk.data(), n));
      offset += n;
    }
    return h.hex();
  }

 private:
  std::uint64_t block(std::uint64_t index) const {
    std::uint64_t z = seed_ * 0x9e3779b97f4a7c15ULL + index + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t seed_;
  std::uint64_t size_;
};

}  // namespace detour::test
