#pragma once
#include <cstddef>
#include <string>

namespace detour::relay {

enum class pipe_shortage {
  no_pipe,       // pipe2() failed: the direction copies through a user-space buffer instead
  smaller_pipe,  // F_SETPIPE_SZ failed: the pipe is smaller than asked
};

// The warning line for a shortage: what happened, the kernel's reason and, for the per-user pipe
// limits, the sysctl that set it with its value as read now. `error` is the failed call's errno.
std::string describe_pipe_shortage(pipe_shortage kind, int error, std::size_t wanted, std::size_t got);

// Logs describe_pipe_shortage() at warning level, at most once a second for the whole process: a
// shortage hits every connection that moves bytes, and one line names it as well as thousands.
void warn_pipe_shortage(pipe_shortage kind, int error, std::size_t wanted, std::size_t got);

}  // namespace detour::relay
