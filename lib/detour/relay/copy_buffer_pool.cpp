#include "detour/relay/copy_buffer_pool.hpp"

namespace detour::relay {

char* copy_buffer_pool::acquire() {
  in_use_.add();
  if (idle_.empty()) return new char[buffer_size];
  auto* buffer = idle_.back().release();
  idle_.pop_back();
  return buffer;
}

void copy_buffer_pool::release(char* buffer) {
  in_use_.sub();
  std::unique_ptr<char[]> owned(buffer);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(owned));
}

}  // namespace detour::relay
