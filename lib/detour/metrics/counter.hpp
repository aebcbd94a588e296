#pragma once
#include <atomic>
#include <cstdint>

namespace detour::metrics {

// A counter written by one worker thread and read by any (a scrape, the stop line): a relaxed load
// and store instead of a locked read-modify-write, since there is a single writer. This is why the
// data path keeps its own counters rather than prometheus-cpp's, whose Increment is a CAS loop on
// an atomic shared by every thread.
class counter {
 public:
  void add(std::uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A level with one writer (connections open on a worker, pipes it holds); the sum over workers is
// the process's level.
class gauge {
 public:
  void add(std::int64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { add(-n); }
  std::int64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

}  // namespace detour::metrics
