#pragma once
#include "detour/error.hpp"

namespace detour::daemon {

// `detourd run` cannot start in this environment: a privilege it needs is missing.
class startup_error : public detour::error {
 public:
  using detour::error::error;
};

}  // namespace detour::daemon
