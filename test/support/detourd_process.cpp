#include "support/detourd_process.hpp"
#include "support/deadline.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace detour::test {

namespace {

using clock = test_clock;

// argv and envp built before fork(): between fork and exec in a process that has threads, the
// child may only make async-signal-safe calls, so no allocation there.
struct exec_args {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;

  exec_args(const std::vector<std::string>& args, std::string_view notify_socket,
            const std::vector<std::string>& launcher = {}) {
    argv_storage = launcher;
    // DETOURD overrides the binary the build points at, e.g. to run the suite against an installed
    // or differently built detourd.
    const char* binary = std::getenv("DETOURD");
    argv_storage.emplace_back(binary != nullptr && *binary != '\0' ? binary : DETOURD_PATH);
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_storage.emplace_back(*e);
    }
    if (!notify_socket.empty()) env_storage.push_back(fmt::format("NOTIFY_SOCKET={}", notify_socket));
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// Starts detourd with stdout and stderr on the given descriptors; returns its pid.
pid_t spawn(exec_args& exec, int stdout_fd, int stderr_fd) {
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) throw_errno("open /dev/null");
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(devnull);
    throw_errno("fork", e);
  }
  if (pid == 0) {
    // Dies with the test process, whatever kills that: nothing outlives a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(devnull, 0);
    ::dup2(stdout_fd, 1);
    ::dup2(stderr_fd, 2);
    ::execve(exec.argv[0], exec.argv.data(), exec.envp.data());
    ::_exit(127);
  }
  ::close(devnull);
  return pid;
}

int open_pidfd(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) throw_errno("pidfd_open");
  return fd;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits up to `timeout` for the child behind `pidfd` to exit and reaps it; nullopt on timeout.
std::optional<int> reap(pid_t pid, int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return std::nullopt;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  return decode_status(status);
}

void make_pipe(std::array<int, 2>& fds) {
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
}

}  // namespace

std::string test_config(std::uint16_t port, std::string_view mode, std::string_view more) {
  return fmt::format("mode: {}\nport: {}\nworkers: 2\nintercept:\n  enabled: false\n{}", mode, port, more);
}

finished_run run_detourd(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& launcher) {
  auto deadline = clock::now() + timeout;
  exec_args exec(args, "", launcher);
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  make_pipe(out);
  make_pipe(err);
  pid_t pid = spawn(exec, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  int pidfd = open_pidfd(pid);
  finished_run result;
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  std::array<pollfd, 2> polls{{{out[0], POLLIN, 0}, {err[0], POLLIN, 0}}};
  while ((polls[0].fd >= 0 || polls[1].fd >= 0) && remaining_ms(deadline) > 0) {
    if (::poll(polls.data(), polls.size(), remaining_ms(deadline)) <= 0) continue;
    for (std::size_t i = 0; i < polls.size(); ++i) {
      if (polls[i].fd < 0 || polls[i].revents == 0) continue;
      std::array<char, 4096> buffer{};
      ssize_t n = ::read(polls[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
      } else {
        ::close(polls[i].fd);
        polls[i].fd = -1;
      }
    }
  }
  for (auto& p : polls) {
    if (p.fd >= 0) ::close(p.fd);
  }
  auto code = reap(pid, pidfd, std::chrono::milliseconds(remaining_ms(deadline)));
  if (!code) {
    ::kill(pid, SIGKILL);
    reap(pid, pidfd, 20s);
    ::close(pidfd);
    throw std::runtime_error(fmt::format("detourd {} did not exit within {}ms; stderr:\n{}", fmt::join(args, " "),
                                         timeout.count(), result.err));
  }
  ::close(pidfd);
  result.exit_code = *code;
  return result;
}

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "detour-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path temp_dir::write(std::string_view name, std::string_view contents) const {
  auto file = path_ / name;
  FILE* f = std::fopen(file.c_str(), "we");
  if (f == nullptr) throw_errno(fmt::format("create {}", file.string()));
  std::fwrite(contents.data(), 1, contents.size(), f);
  std::fclose(f);
  return file;
}

detourd_process::detourd_process(std::string_view config_yaml, const std::vector<std::string>& extra_args,
                                 std::chrono::milliseconds ready_timeout) {
  auto deadline = clock::now() + ready_timeout;
  auto config_file = dir_.write("detour.yaml", config_yaml);
  auto notify_path = dir_.path() / "notify.sock";

  int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (notify < 0) throw_errno("socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(notify, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(notify);
    throw_errno("bind notify socket", e);
  }

  std::vector<std::string> args{"run", "-c", config_file.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  exec_args exec(args, notify_path.string());
  std::array<int, 2> output{-1, -1};
  make_pipe(output);
  try {
    pid_ = spawn(exec, output[1], output[1]);
  } catch (...) {
    ::close(output[0]);
    ::close(output[1]);
    ::close(notify);
    throw;
  }
  ::close(output[1]);
  stderr_pipe_ = output[0];
  pidfd_ = open_pidfd(pid_);
  reader_ = std::thread([this] { read_output(); });

  std::string failure;
  for (;;) {
    std::array<pollfd, 2> polls{{{notify, POLLIN, 0}, {pidfd_, POLLIN, 0}}};
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
      std::array<char, 1024> message{};
      ssize_t got = ::recv(notify, message.data(), message.size() - 1, 0);
      std::string_view text(message.data(), got > 0 ? static_cast<std::size_t>(got) : 0);
      if (text.find("READY=1") != std::string_view::npos) break;
    } else if (polls[1].revents != 0) {
      exit_code_ = reap(pid_, pidfd_, 0ms);
      failure = fmt::format("detourd exited with {} before READY=1", exit_code_.value_or(-1));
      break;
    }
  }
  ::close(notify);
  if (!failure.empty()) {
    // The destructor does not run for a constructor that throws: clean up here.
    if (!exit_code_) {
      ::kill(pid_, SIGKILL);
      exit_code_ = reap(pid_, pidfd_, 20s);
    }
    reader_.join();
    ::close(pidfd_);
    throw std::runtime_error(fmt::format("{}; its output:\n{}", failure, log_));
  }
}

detourd_process::~detourd_process() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    reap(pid_, pidfd_, 20s);
  }
  if (reader_.joinable()) reader_.join();
  ::close(pidfd_);
  // On the test's stderr, which ctest --output-on-failure shows when the test fails.
  std::fprintf(stderr, "---- detourd (pid %d) output ----\n%s---- end of detourd output ----\n", pid_, log_.c_str());
}

void detourd_process::read_output() {
  std::array<char, 4096> buffer{};
  for (;;) {
    ssize_t n = ::read(stderr_pipe_, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      log_closed_ = true;
      ::close(stderr_pipe_);
      grew_.notify_all();
      return;
    }
    log_.append(buffer.data(), static_cast<std::size_t>(n));
    grew_.notify_all();
  }
}

bool detourd_process::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return grew_.wait_for(lock, timeout,
                        [&] { return log_.find(needle) != std::string::npos || log_closed_; }) &&
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

void detourd_process::send_signal(int signal) const {
  if (!exit_code_) ::kill(pid_, signal);
}

int detourd_process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  exit_code_ = reap(pid_, pidfd_, timeout);
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    exit_code_ = reap(pid_, pidfd_, 20s);
    reader_.join();
    throw std::runtime_error(fmt::format("detourd did not exit within {}ms; its output:\n{}", timeout.count(), log_));
  }
  reader_.join();
  return *exit_code_;
}

int detourd_process::stop(std::chrono::milliseconds timeout, int signal) {
  send_signal(signal);
  return wait_for_exit(timeout);
}

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
