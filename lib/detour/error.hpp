#pragma once
#include <stdexcept>

namespace detour {

// A failure the user can act on: a bad config, a port in use, a missing privilege, a ruleset the
// kernel refused. what() is the whole message, naming the place, the value and the reason; the
// command line prints it after "detourd: " and exits 1. Only the control plane throws these.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace detour
