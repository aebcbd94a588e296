#include "support/detourd_process.hpp"

#include "support/deadline.hpp"
#include "support/nft.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace detour::test {

namespace {

using clock = test_clock;

// `launcher`, then detourd, then `args`. DETOURD overrides the binary the build points at, e.g. to
// run the suite against an installed or differently built detourd.
std::vector<std::string> detourd_argv(const std::vector<std::string>& args,
                                      const std::vector<std::string>& launcher = {}) {
  std::vector<std::string> argv = launcher;
  const char* binary = std::getenv("DETOURD");
  argv.emplace_back(binary != nullptr && *binary != '\0' ? binary : DETOURD_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

std::string test_config(std::uint16_t port, std::string_view mode, std::string_view more) {
  // Tests that start two detourds in one namespace would fight over the admin port: it is off
  // unless the test is about it.
  const bool admin = more.find("admin:") != std::string_view::npos;
  return fmt::format("mode: {}\nport: {}\nworkers: 2\nintercept:\n  enabled: false\n{}{}", mode, port,
                     admin ? "" : "admin:\n  listen: off\n", more);
}

finished_run run_detourd(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& launcher) {
  return run_to_completion(detourd_argv(args, launcher), timeout);
}

detourd_process::detourd_process(std::string_view config_yaml, const std::vector<std::string>& extra_args,
                                 std::chrono::milliseconds ready_timeout, const std::vector<std::string>& launcher,
                                 const std::vector<std::string>& extra_env) {
  auto deadline = clock::now() + ready_timeout;
  auto config_file = dir_.write("detour.yaml", config_yaml);
  // A detourd that starts as, or becomes, another user (`user:`, a launcher) reads the file, at
  // the start and at each reload: the directory traversable, the file readable by anyone.
  namespace fs = std::filesystem;
  fs::permissions(dir_.path(), fs::perms::others_exec, fs::perm_options::add);
  fs::permissions(config_file, fs::perms::others_read, fs::perm_options::add);

  std::vector<std::string> args{"run", "-c", config_file.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<std::string> env{notify_.environment_entry()};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::array<int, 2> output{-1, -1};
  if (::pipe2(output.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
  try {
    child_.emplace(detourd_argv(args, launcher), output[1], output[1], env);
  } catch (...) {
    ::close(output[0]);
    ::close(output[1]);
    throw;
  }
  ::close(output[1]);
  output_pipe_ = output[0];
  reader_ = std::thread([this] { read_output(); });

  std::string failure;
  while (!notify_.wait_for("READY=1", 0ms)) {
    std::array<pollfd, 2> polls{{{notify_.arrival_fd(), POLLIN, 0}, {child_->pidfd(), POLLIN, 0}}};
    int n = ::poll(polls.data(), polls.size(), remaining_ms(deadline));
    if (n == 0) {
      failure = fmt::format("detourd did not report READY=1 within {}ms", ready_timeout.count());
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      failure = fmt::format("poll: {}", std::strerror(errno));
      break;
    }
    if (polls[0].revents != 0) {
      std::uint64_t arrivals = 0;
      [[maybe_unused]] auto got = ::read(notify_.arrival_fd(), &arrivals, sizeof arrivals);
    } else if (polls[1].revents != 0) {
      failure = fmt::format("detourd exited with {} before READY=1", child_->wait(0ms).value_or(-1));
      break;
    }
  }
  if (!failure.empty()) {
    // The destructor does not run for a constructor that throws: end the reader here.
    child_->kill();
    reader_.join();
    throw std::runtime_error(fmt::format("{}; its output:\n{}", failure, log_));
  }
}

detourd_process::~detourd_process() {
  child_->kill();
  if (reader_.joinable()) reader_.join();
  // On the test's stderr, which ctest --output-on-failure shows when the test fails.
  std::fprintf(stderr, "---- detourd (pid %d) output ----\n%s---- end of detourd output ----\n", pid(), log_.c_str());
}

void detourd_process::read_output() {
  std::array<char, 4096> buffer{};
  for (;;) {
    ssize_t n = ::read(output_pipe_, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      log_closed_ = true;
      ::close(output_pipe_);
      grew_.notify_all();
      return;
    }
    log_.append(buffer.data(), static_cast<std::size_t>(n));
    grew_.notify_all();
  }
}

bool detourd_process::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return grew_.wait_for(lock, timeout, [&] { return log_.find(needle) != std::string::npos || log_closed_; }) &&
         log_.find(needle) != std::string::npos;
}

std::string detourd_process::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

std::size_t detourd_process::count_log_lines(std::string_view needle) const {
  std::lock_guard lock(mutex_);
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < log_.size()) {
    auto end = log_.find('\n', start);
    if (end == std::string::npos) end = log_.size();
    if (std::string_view(log_).substr(start, end - start).find(needle) != std::string_view::npos) ++count;
    start = end + 1;
  }
  return count;
}

void detourd_process::send_signal(int signal) const { child_->signal(signal); }

int detourd_process::wait_for_exit(std::chrono::milliseconds timeout) {
  auto code = child_->wait(timeout);
  if (!code) {
    child_->kill();
    reader_.join();
    throw std::runtime_error(fmt::format("detourd did not exit within {}ms; its output:\n{}", timeout.count(), log_));
  }
  if (reader_.joinable()) reader_.join();
  return *code;
}

int detourd_process::stop(std::chrono::milliseconds timeout, int signal) {
  send_signal(signal);
  return wait_for_exit(timeout);
}

direct_proxy::direct_proxy(std::string_view more_config)
    : port(enter_redirected_netns()), detourd(test_config(port, "direct", more_config)) {}

std::string detourd_process::last_log_line() const {
  std::lock_guard lock(mutex_);
  std::string_view text(log_);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto start = text.rfind('\n');
  return std::string(start == std::string_view::npos ? text : text.substr(start + 1));
}

std::optional<std::uint64_t> detourd_process::stop_counter(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto line_start = log_.rfind("detourd: stopped:");
  if (line_start == std::string::npos) return std::nullopt;
  auto line_end = log_.find('\n', line_start);
  std::string_view line = std::string_view(log_).substr(line_start, line_end - line_start);
  auto key = fmt::format(" {}=", name);
  auto at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  bool any = false;
  for (auto c : line.substr(at + key.size())) {
    if (c < '0' || c > '9') break;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    any = true;
  }
  return any ? std::optional<std::uint64_t>(value) : std::nullopt;
}

}  // namespace detour::test
