#pragma once
#include "detour/error.hpp"

#include <string>

namespace detour::rules {

// A batch the kernel refused. what() names the object (table, chain, set or rule, with its name or
// its nft text), the kernel's errno text and the likely cause; the batch was aborted as a whole, so
// nothing of it is in the kernel.
class rules_error : public detour::error {
 public:
  rules_error(const std::string& message, int error_number) : detour::error(message), errno_(error_number) {}
  int error_number() const { return errno_; }

 private:
  int errno_;
};

}  // namespace detour::rules
