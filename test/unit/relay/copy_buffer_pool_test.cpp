#include "detour/relay/copy_buffer_pool.hpp"

#include <catch2/catch.hpp>

using detour::relay::copy_buffer_pool;

TEST_CASE("copy buffers are counted while held and at most max_idle are kept for reuse", "[relay]") {
  copy_buffer_pool pool(2);
  char* a = pool.acquire();
  char* b = pool.acquire();
  char* c = pool.acquire();
  CHECK(pool.in_use().get() == 3);
  a[copy_buffer_pool::buffer_size - 1] = 'x';  // the whole buffer is there to write
  pool.release(a);
  pool.release(b);
  pool.release(c);
  CHECK(pool.in_use().get() == 0);
  CHECK(pool.idle() == 2);
  char* again = pool.acquire();
  CHECK((again == b || again == c));
  pool.release(again);
}
