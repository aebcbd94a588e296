#include "support/process.hpp"

#include "support/deadline.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace detour::test {

namespace {

// argv and envp built before fork(): between fork and exec in a process that has threads, the
// child may only make async-signal-safe calls, so no allocation there.
struct exec_args {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;

  exec_args(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) : argv_storage(args) {
    // The service manager's variables the test process inherited belong to whoever started it,
    // not to its children. A variable in `extra_env` replaces the inherited one: getenv() would
    // return whichever comes first.
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      auto name = entry.substr(0, entry.find('='));
      bool dropped = name == "NOTIFY_SOCKET" || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID";
      for (const auto& x : extra_env) dropped = dropped || x.substr(0, x.find('=')) == name;
      if (!dropped) env_storage.emplace_back(entry);
    }
    env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

void make_pipe(std::array<int, 2>& fds) {
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

child_process::child_process(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                             const std::vector<std::string>& extra_env) {
  exec_args exec(argv, extra_env);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) throw_errno("open /dev/null");
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    int e = errno;
    ::close(devnull);
    throw_errno("fork", e);
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The test process died before prctl: nobody would kill this child later.
    if (::getppid() != parent) ::_exit(127);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(stdout_fd, STDOUT_FILENO);
    ::dup2(stderr_fd, STDERR_FILENO);
    ::execve(exec.argv[0], exec.argv.data(), exec.envp.data());
    ::_exit(127);
  }
  ::close(devnull);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) {
    int e = errno;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    throw_errno("pidfd_open", e);
  }
}

child_process::~child_process() {
  kill();
  ::close(pidfd_);
}

void child_process::signal(int signal) const {
  if (!exit_code_) ::kill(pid_, signal);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = test_clock::now() + timeout;
  for (;;) {
    pollfd p{pidfd_, POLLIN, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) break;
    if (n == 0) return std::nullopt;
    if (errno != EINTR) throw_errno("poll");
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  exit_code_ = decode_status(status);
  return exit_code_;
}

int child_process::kill() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    wait(20s);
  }
  return exit_code_.value_or(-1);
}

background_process::background_process(const std::vector<std::string>& argv, std::filesystem::path output)
    : output_(std::move(output)) {
  int fd = ::open(output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("open " + output_.string());
  try {
    child_.emplace(argv, fd, fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

std::string background_process::output() const {
  std::ifstream in(output_);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool background_process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) const {
  return poll_until([&] { return output().find(needle) != std::string::npos; }, timeout);
}

finished_run run_to_completion(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto deadline = test_clock::now() + timeout;
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  make_pipe(out);
  make_pipe(err);
  std::optional<child_process> child;
  try {
    child.emplace(argv, out[1], err[1]);
  } catch (...) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw;
  }
  ::close(out[1]);
  ::close(err[1]);
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
  auto code = child->wait(std::chrono::milliseconds(remaining_ms(deadline)));
  if (!code) {
    child->kill();
    throw std::runtime_error(
        fmt::format("{} did not exit within {}ms; stderr:\n{}", fmt::join(argv, " "), timeout.count(), result.err));
  }
  result.exit_code = *code;
  return result;
}

}  // namespace detour::test
