#pragma once
// A real browser for the tests: Debian's headless Chromium (/usr/bin/chromium, 156 when written)
// loads a page, runs its scripts, and gives back the DOM they left and a screenshot.
//
// What works with this Chromium, found on the CI machine (root, no display, no D-Bus):
// - `--headless --no-sandbox` (root cannot use the sandbox) `--disable-gpu`.
// - `--disable-background-networking --disable-component-update --disable-sync --disable-quic
//   --no-first-run`: without them it reaches for Google's update and sync services at start-up,
//   which inside a test namespace fails and only slows it down.
// - A fresh `--user-data-dir` each run, so no profile, cache or cookie leaks between tests.
// - `--virtual-time-budget=MS`: the page runs on a virtual clock that stops while a fetch is in
//   flight and jumps over idle waits, so timers and fetches of MS virtual milliseconds complete
//   before the DOM is dumped (a page polling every 2 s polls three times in 5000, in about 2 s of
//   wall time). A request that never gets an answer stalls the clock: `timeout` bounds that.
// - `--dump-dom` (to stdout) and `--screenshot=PATH --window-size=W,H` work in one run: the
//   screenshot is taken when the budget ends, of the same state as the DOM.
// - The D-Bus errors it prints on stderr are harmless.
// /usr/bin/chromium is a shell script that execs the browser, so the pid the test started is the
// browser's; its zygote, renderer and utility processes exit by themselves once it is gone (seen
// after SIGKILL). It runs in the test's network namespace, which a child inherits.
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace detour::test {

using namespace std::chrono_literals;

struct browse_options {
  // Virtual time the page runs for before its DOM is taken (see above).
  std::chrono::milliseconds virtual_time = 5000ms;
  // Where to save a PNG of the window; empty for none.
  std::filesystem::path screenshot;
  int width = 1280;
  int height = 900;
  // Wall-clock bound for the whole run; the browser is killed (by its pid) past it.
  std::chrono::milliseconds timeout = 60s;
};

struct browse_result {
  std::string dom;                   // document.documentElement.outerHTML once the virtual time ran out
  std::filesystem::path screenshot;  // options.screenshot, written and non-empty; empty if none asked
};

// Loads `url` in headless Chromium. Throws with Chromium's stderr if it fails, times out, prints
// no document, or was asked for a screenshot and wrote none.
browse_result browse(std::string_view url, const browse_options& options = {});

}  // namespace detour::test
