#pragma once
#include "detour/metrics/counter.hpp"

#include <cstdint>
#include <string_view>

namespace detour::proxy {

using metrics::counter;

// Every counter a worker keeps, in the order the stop line prints them. The struct below is
// declared from this one list (as Envoy declares its stats), so a new counter cannot be forgotten
// by the stop line or by the sum over workers.
#define DETOUR_PROXY_COUNTERS(X)                                                             \
  X(accepted)            /* connections accepted */                                          \
  X(relayed)             /* reached their destination (directly or upstream) and relayed */  \
  X(not_redirected)      /* made to our port directly, or without an original destination */ \
  X(loops)               /* original destination was one of our own listeners */             \
  X(upstream_failures)   /* the connect or the proxy handshake failed; client reset */       \
  X(rejected)            /* reset by a reject route */                                       \
  X(echoed)              /* answered with the echo line or JSON */                           \
  X(early_data_failures) /* the client was gone before the proxy's early bytes reached it */ \
  X(limited)             /* reset at accept: over max_connections or the per-source limit */ \
  X(accepted_inbound)    /* accepted, captured in prerouting (the rest in output) */         \
  X(self_tests)          /* detourd's own capture self-test, answered, not in `accepted` */  \
  X(bytes_up)            /* relayed client -> upstream */                                    \
  X(bytes_down)          /* relayed upstream -> client */

struct stats {
#define DETOUR_DECLARE_COUNTER(name) counter name;
  DETOUR_PROXY_COUNTERS(DETOUR_DECLARE_COUNTER)
#undef DETOUR_DECLARE_COUNTER

  // Calls f(name, value) for each counter, in list order.
  template <typename F>
  void for_each(F&& f) const {
#define DETOUR_VISIT_COUNTER(name) f(std::string_view(#name), (name).get());
    DETOUR_PROXY_COUNTERS(DETOUR_VISIT_COUNTER)
#undef DETOUR_VISIT_COUNTER
  }

  // Adds every counter of `other` (a worker's) to this one (a total).
  void add(const stats& other) {
#define DETOUR_ADD_COUNTER(name) name.add(other.name.get());
    DETOUR_PROXY_COUNTERS(DETOUR_ADD_COUNTER)
#undef DETOUR_ADD_COUNTER
  }
};

}  // namespace detour::proxy
