#include "detour/net/socket.hpp"

#include "detour/net/socket_options.hpp"

namespace detour::net {

void reset(socket& s) {
  if (!s.is_open()) return;
  (void)set_linger_reset(s.native_handle());
  boost::system::error_code ignored;
  s.close(ignored);
}

}  // namespace detour::net
