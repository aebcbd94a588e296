#pragma once
#include "detour/config/config.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace detour {

// Why `user:` or `group:` (or `run --user`) could not be resolved: the key it concerns ("user" or
// "group") and the reason, which names the value.
struct run_as_problem {
  std::string key;
  std::string reason;
  friend bool operator==(const run_as_problem&, const run_as_problem&) = default;
};

// Resolves `user` (a name, or a numeric uid) and `group` (a name, a numeric gid, or empty for the
// user's primary group) through this host's passwd and group databases. A name is looked up first,
// as chown(1) does, so a user called "1000" is that user and not uid 1000. A numeric uid that has no
// passwd entry (common in containers) is accepted with the group of the same number, the default of
// istio's --proxy-gid.
std::variant<run_as_config, run_as_problem> resolve_run_as(std::string_view user, std::string_view group);

}  // namespace detour
