#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace detour::net {

// Lets a warning through at most once per interval. Running out of descriptors or ports fails
// every accept and connect until something frees one; a line per failure would flood the journal
// exactly when the operator needs to read it. Thread-safe: every worker warns through the same one.
class warning_limiter {
 public:
  using clock = std::chrono::steady_clock;
  explicit warning_limiter(clock::duration interval = std::chrono::seconds(1)) : interval_(interval) {}

  // Whether a warning may be written at `now`: if so, how many were held back since the last one.
  std::optional<std::uint64_t> admit(clock::time_point now);

 private:
  std::mutex mutex_;
  clock::duration interval_;
  std::optional<clock::time_point> last_;
  std::uint64_t suppressed_ = 0;
};

// What runs out. Each has a limiter of its own, so a flood of one never hides the first sign of
// another.
enum class exhausted { descriptors, ports, conntrack, memory, pipes };
inline constexpr std::size_t exhausted_kinds = 5;

// Logs `text` as a warning, at most once a second per resource, process-wide; a line after
// suppressed ones ends in "(N more suppressed)".
void warn_exhausted(exhausted what, std::string_view text);
// The same, for a text that costs something to make (a read of /proc): `describe` runs only when
// the line is written.
void warn_exhausted(exhausted what, const std::function<std::string()>& describe);

// `text` with the suppressed count appended when there is one.
std::string with_suppressed(std::string_view text, std::uint64_t suppressed);

}  // namespace detour::net
