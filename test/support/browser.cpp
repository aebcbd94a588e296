#include "support/browser.hpp"

#include "support/detourd_process.hpp"
#include "support/process.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <system_error>
#include <vector>

namespace detour::test {

namespace {

std::vector<std::string> chromium_argv(std::string_view url, const browse_options& options,
                                       const std::filesystem::path& profile) {
  std::vector<std::string> argv{"/usr/bin/chromium",
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-quic",
                                "--no-first-run",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync",
                                "--user-data-dir=" + profile.string(),
                                fmt::format("--virtual-time-budget={}", options.virtual_time.count()),
                                fmt::format("--window-size={},{}", options.width, options.height),
                                "--dump-dom"};
  if (!options.screenshot.empty()) argv.push_back("--screenshot=" + options.screenshot.string());
  argv.emplace_back(url);
  return argv;
}

}  // namespace

browse_result browse(std::string_view url, const browse_options& options) {
  temp_dir profile;
  if (!options.screenshot.empty()) {
    std::filesystem::create_directories(options.screenshot.parent_path());
    // A picture left by an earlier run must not pass for this one's.
    std::filesystem::remove(options.screenshot);
  }
  auto run = run_to_completion(chromium_argv(url, options, profile.path()), options.timeout);
  if (run.exit_code != 0 || run.out.find("<html") == std::string::npos) {
    throw std::runtime_error(
        fmt::format("chromium on {} exited with {} and printed no document; stderr:\n{}", url, run.exit_code, run.err));
  }
  browse_result result{std::move(run.out), {}};
  if (!options.screenshot.empty()) {
    std::error_code error;
    if (std::filesystem::file_size(options.screenshot, error) == 0 || error) {
      throw std::runtime_error(fmt::format("chromium on {} wrote no screenshot to {}; stderr:\n{}", url,
                                           options.screenshot.string(), run.err));
    }
    result.screenshot = options.screenshot;
  }
  return result;
}

}  // namespace detour::test
