#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace detour::metrics {

// Counters by a slot number that keeps growing as reloads bring new route or upstream names, read
// by the scrape while the owning worker writes. Slots live in fixed chunks that never move, and a
// chunk is published with release once built, so a reader on another thread sees either no chunk
// (all zero) or a complete one: growth needs no lock and no copy of counters that are in use.
template <typename T>
class slot_array {
 public:
  static constexpr std::size_t chunk_size = 64;
  static constexpr std::size_t max_chunks = 1024;
  static constexpr std::size_t max_slots = chunk_size * max_chunks;

  slot_array() = default;
  slot_array(const slot_array&) = delete;
  slot_array& operator=(const slot_array&) = delete;
  ~slot_array() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }

  // Makes slots [0, count) exist. The owner's thread only; count <= max_slots.
  void reserve(std::size_t count) {
    for (std::size_t c = 0; c * chunk_size < count; ++c) {
      if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
        chunks_[c].store(new T[chunk_size], std::memory_order_release);
      }
    }
  }

  // A reserved slot, on the owner's thread.
  T& operator[](std::size_t slot) {
    return chunks_[slot / chunk_size].load(std::memory_order_relaxed)[slot % chunk_size];
  }

  // Any thread: the slot, or nullptr if it was never reserved.
  const T* find(std::size_t slot) const {
    if (slot >= max_slots) return nullptr;
    const T* chunk = chunks_[slot / chunk_size].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : &chunk[slot % chunk_size];
  }

 private:
  std::array<std::atomic<T*>, max_chunks> chunks_{};
};

}  // namespace detour::metrics
