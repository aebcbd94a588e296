#include "detour/net/socket_options.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace detour::net {
namespace {

std::error_code last_error(int rc) {
  return rc == 0 ? std::error_code{} : std::error_code(errno, std::system_category());
}

}  // namespace

std::error_code set_mark(int fd, std::uint32_t mark) {
  return last_error(::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)));
}

std::error_code set_linger_reset(int fd) {
  linger l{1, 0};
  return last_error(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
}

std::error_code set_receive_low_water(int fd, int bytes) {
  return last_error(::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof(bytes)));
}

}  // namespace detour::net
