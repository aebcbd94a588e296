#pragma once
#include <cstdint>
#include <system_error>

namespace detour::net {

// Thin seams over setsockopt: each returns the kernel's error instead of throwing, because they run
// on the per-connection path.
std::error_code set_mark(int fd, std::uint32_t mark);
// SO_LINGER {1, 0}: close() then sends RST instead of FIN, which is how a reset is propagated.
std::error_code set_linger_reset(int fd);
// SO_RCVLOWAT: the socket reads as readable (poll, epoll) only once `bytes` are queued, or at EOF
// or an error. Setting it makes TCP re-check readiness at once, waking a waiter if the bytes are
// already there.
std::error_code set_receive_low_water(int fd, int bytes);

}  // namespace detour::net
