#pragma once
#include <atomic>
#include <cstdint>

namespace detour::proxy {

// A counter written by one worker thread and read by any: a relaxed load and store instead of a
// locked read-modify-write, since there is a single writer.
class counter {
 public:
  void add(std::uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct stats {
  counter accepted;
  counter relayed;          // sessions that reached an upstream and relayed
  counter not_redirected;   // connected to our port directly, or without an original destination
  counter loops;            // original destination was one of our own listeners
  counter rejected;         // reset by the reject mode
  counter echoed;
  counter upstream_failures;
  counter bytes_up;         // client -> upstream
  counter bytes_down;       // upstream -> client
};

}  // namespace detour::proxy
