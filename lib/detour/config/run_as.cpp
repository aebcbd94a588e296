#include "detour/config/run_as.hpp"

#include <fmt/format.h>

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <system_error>
#include <vector>

namespace detour {
namespace {

// An entry of the passwd or group database, with the strings it points to kept alive.
template <typename Entry>
struct found_entry {
  Entry entry{};
  std::vector<char> storage;
};

// `call` is one of the get{pw,gr}{nam,uid,gid}_r functions bound to its key. nullopt with an empty
// `error`: no such entry.
template <typename Entry, typename Call>
std::optional<found_entry<Entry>> look_up(Call call, std::string& error) {
  found_entry<Entry> found;
  // An entry larger than this is not a user database any more; the bound keeps the loop finite.
  constexpr std::size_t max_storage = 1 << 20;
  for (std::size_t size = 1024; size <= max_storage; size *= 4) {
    found.storage.resize(size);
    Entry* result = nullptr;
    const int rc = call(&found.entry, found.storage.data(), found.storage.size(), &result);
    if (rc == ERANGE) continue;
    // getpwnam(3): "0 or ENOENT or ESRCH or EBADF or EPERM or ..." all mean the name was not found,
    // depending on the NSS module asked.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) {
      if (result == nullptr) return std::nullopt;
      return found;
    }
    error = std::error_code(rc, std::generic_category()).message();
    return std::nullopt;
  }
  error = "the entry is larger than 1 MiB";
  return std::nullopt;
}

// (uid_t)-1 is "leave unchanged" to setresuid(2), so it cannot name anyone.
std::optional<std::uint32_t> parse_id(std::string_view text) {
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value == std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return value;
}

struct resolved {
  std::string name;
  std::uint32_t id = 0;
  std::uint32_t primary_gid = 0;  // users only
};

std::variant<resolved, run_as_problem> resolve_user(std::string_view text) {
  const std::string name(text);
  std::string error;
  auto by_name = look_up<passwd>([&name](passwd* e, char* buf, std::size_t size,
                                         passwd** out) { return ::getpwnam_r(name.c_str(), e, buf, size, out); },
                                 error);
  auto id = parse_id(text);
  if (!by_name && error.empty() && id) {
    by_name = look_up<passwd>(
        [id](passwd* e, char* buf, std::size_t size, passwd** out) { return ::getpwuid_r(*id, e, buf, size, out); },
        error);
    if (!by_name && error.empty()) return resolved{std::to_string(*id), *id, *id};
  }
  if (!error.empty()) return run_as_problem{"user", fmt::format("looking up \"{}\" failed: {}", text, error)};
  if (!by_name) {
    return run_as_problem{"user", fmt::format("no such user \"{}\" on this host (a name or a numeric uid)", text)};
  }
  return resolved{by_name->entry.pw_name, by_name->entry.pw_uid, by_name->entry.pw_gid};
}

// `text` empty: the group `primary` (the user's), by its name when it has one.
std::variant<resolved, run_as_problem> resolve_group(std::string_view text, std::uint32_t primary) {
  const std::string name(text);
  std::string error;
  std::optional<found_entry<group>> found;
  if (!text.empty()) {
    found = look_up<group>([&name](group* e, char* buf, std::size_t size,
                                   group** out) { return ::getgrnam_r(name.c_str(), e, buf, size, out); },
                           error);
  }
  auto id = text.empty() ? std::optional<std::uint32_t>(primary) : parse_id(text);
  if (!found && error.empty() && id) {
    found = look_up<group>(
        [id](group* e, char* buf, std::size_t size, group** out) { return ::getgrgid_r(*id, e, buf, size, out); },
        error);
    if (!found && error.empty()) return resolved{std::to_string(*id), *id, 0};
  }
  if (!error.empty()) return run_as_problem{"group", fmt::format("looking up \"{}\" failed: {}", text, error)};
  if (!found) {
    return run_as_problem{"group", fmt::format("no such group \"{}\" on this host (a name or a numeric gid)", text)};
  }
  return resolved{found->entry.gr_name, found->entry.gr_gid, 0};
}

}  // namespace

std::variant<run_as_config, run_as_problem> resolve_run_as(std::string_view user, std::string_view group) {
  if (user.empty()) return run_as_problem{"user", "expected a user name or a numeric uid, got \"\""};
  auto u = resolve_user(user);
  if (auto* problem = std::get_if<run_as_problem>(&u)) return *problem;
  const auto& who = std::get<resolved>(u);
  auto g = resolve_group(group, who.primary_gid);
  if (auto* problem = std::get_if<run_as_problem>(&g)) return *problem;
  const auto& in = std::get<resolved>(g);
  return run_as_config{who.name, who.id, in.name, in.id};
}

}  // namespace detour
