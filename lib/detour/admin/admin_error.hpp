#pragma once
#include "detour/error.hpp"

namespace detour::admin {

// The admin endpoint cannot listen (a port in use, an address not on this host), or, for the
// command-line clients, cannot be reached. what() names the address and the system's reason.
class admin_error : public detour::error {
 public:
  using detour::error::error;
};

}  // namespace detour::admin
