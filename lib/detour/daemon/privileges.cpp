#include "detour/daemon/privileges.hpp"

#include "detour/daemon/startup_error.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace detour::daemon {
namespace {

struct cap_deleter {
  void operator()(void* p) const { ::cap_free(p); }
};
using caps_ptr = std::unique_ptr<std::remove_pointer_t<cap_t>, cap_deleter>;

[[noreturn]] void fail(const run_as_config& who, std::string_view reason) {
  throw startup_error(fmt::format("user: {}: {}", who.user, reason));
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// 0 when /proc is not mounted: then nothing can be known, and nothing is refused.
unsigned long thread_count() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoul(line.substr(8));
  }
  return 0;
}

bool is_already(const run_as_config& who) {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  ::getresuid(&ruid, &euid, &suid);
  ::getresgid(&rgid, &egid, &sgid);
  return ruid == who.uid && euid == who.uid && suid == who.uid && rgid == who.gid && egid == who.gid && sgid == who.gid;
}

void switch_identity(const run_as_config& who) {
  // Without it the kernel empties the permitted set when the last uid leaves 0; the effective set
  // is emptied either way and raised again by set_capabilities.
  if (::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) fail(who, "prctl(PR_SET_KEEPCAPS): " + errno_text(errno));
  // Only the primary group (`group:`), not the user's supplementary groups: every file detourd
  // needs is open by now, so further groups would only widen what a compromised detourd can reach,
  // and the one group that matters stays visible in the config.
  const gid_t groups[] = {who.gid};
  const uid_t from = ::getuid();
  if (::setgroups(1, groups) != 0 || ::setresgid(who.gid, who.gid, who.gid) != 0 ||
      ::setresuid(who.uid, who.uid, who.uid) != 0) {
    const int e = errno;
    fail(who, fmt::format("cannot switch from uid {}: {}; start detourd as root or drop `user:`", from, errno_text(e)));
  }
}

caps_ptr exactly(const std::vector<cap_value_t>& keep) {
  caps_ptr caps(::cap_init());
  const auto n = static_cast<int>(keep.size());
  ::cap_set_flag(caps.get(), CAP_PERMITTED, n, keep.data(), CAP_SET);
  ::cap_set_flag(caps.get(), CAP_EFFECTIVE, n, keep.data(), CAP_SET);
  return caps;
}

std::string to_text(cap_t caps) {
  std::unique_ptr<char, cap_deleter> text(::cap_to_text(caps, nullptr));
  return text ? std::string(text.get()) : "(unreadable)";
}

std::string names(const std::vector<cap_value_t>& keep) {
  std::string out;
  for (auto cap : keep) {
    std::unique_ptr<char, cap_deleter> name(::cap_to_name(cap));
    out += (out.empty() ? "" : ", ") + std::string(name ? name.get() : "?");
  }
  return out;
}

void set_capabilities(const run_as_config& who, const std::vector<cap_value_t>& keep) {
  // EINVAL: a kernel before 4.3, which has no ambient set to clear.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 && errno != EINVAL) {
    fail(who, "clearing the ambient capabilities: " + errno_text(errno));
  }
  auto wanted = exactly(keep);
  if (::cap_set_proc(wanted.get()) != 0) {
    const int e = errno;
    fail(who, fmt::format("cannot keep {0}: {1}; start detourd as root or grant it {0}", names(keep), errno_text(e)));
  }
  (void)::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
}

void verify(const run_as_config& who, const std::vector<cap_value_t>& keep) {
  if (!is_already(who)) fail(who, "the uid or gid did not change to the ones asked for");
  caps_ptr now(::cap_get_proc());
  auto wanted = exactly(keep);
  if (!now || ::cap_compare(now.get(), wanted.get()) != 0) {
    fail(who, fmt::format("capabilities are \"{}\" after dropping, expected \"{}\"", now ? to_text(now.get()) : "?",
                          to_text(wanted.get())));
  }
  for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(::cap_max_bits()); ++cap) {
    if (::cap_get_ambient(cap) > 0) fail(who, fmt::format("{} is still ambient after dropping", names({cap})));
  }
}

}  // namespace

void drop_privileges(const run_as_config& who, bool keep_bind_service) {
  if (auto threads = thread_count(); threads > 1) {
    fail(who, fmt::format("cannot drop privileges with {} threads running: capabilities are per thread, and the "
                          "others would keep theirs",
                          threads));
  }
  std::vector<cap_value_t> keep{CAP_NET_ADMIN};
  if (keep_bind_service) keep.push_back(CAP_NET_BIND_SERVICE);
  if (!is_already(who)) switch_identity(who);
  set_capabilities(who, keep);
  verify(who, keep);
  spdlog::info("detourd: running as {} (uid {}, gid {}) with {}", who.user, who.uid, who.gid, names(keep));
}

}  // namespace detour::daemon
