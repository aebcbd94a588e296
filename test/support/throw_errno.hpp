#pragma once
#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace detour::test {

// A failed system call as an exception that names the call: "bind: Address already in use".
[[noreturn]] inline void throw_errno(std::string_view what, int e = errno) {
  throw std::system_error(e, std::generic_category(), std::string(what));
}

}  // namespace detour::test
