#pragma once
// Runs a helper program (az, azd) to completion without blocking the I/O
// thread and without a shell.
//
// The program is found on PATH by keyless itself (relative PATH entries are
// skipped), started with posix_spawn from an argument vector in its own
// process group, with stdin on /dev/null and stdout and stderr read
// concurrently through asio::readable_pipe. The child is always reaped: after
// a normal exit right away, and after a kill (timeout, cancellation, output
// cap) by a detached reaper on the same executor, so the caller is never held
// up by a dying child. Exit is observed through a pidfd when the kernel has
// one (Linux 5.3+), else by polling waitid(WNOHANG) on a short timer once both
// pipes have closed. No SIGCHLD handler is installed or needed.
//
// Caveat: if the host application reaps every child itself (waitpid(-1) in a
// SIGCHLD handler, or SIGCHLD set to SIG_IGN), the exit status is lost; the
// result then carries no exit code.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

namespace keyless::identity::detail {

struct process_options {
  /// A program name looked up on PATH, or a path containing '/'. A relative
  /// path is taken relative to this process's working directory.
  std::string program;
  /// argv[1..]; argv[0] is the program as given.
  std::vector<std::string> arguments;
  /// Changes to the inherited environment: a value sets the variable, nullopt
  /// removes it. PATH lookup uses the resulting PATH.
  std::vector<std::pair<std::string, std::optional<std::string>>> environment;
  /// The child's working directory; empty inherits ours.
  std::string working_directory;
  /// The child is killed (SIGKILL to its process group) when it has not
  /// finished and closed its output within this time.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  /// Largest accepted size of stdout and of stderr, each. More output kills
  /// the child and fails with errc::limit_exceeded.
  std::size_t max_output = std::size_t{1} << 20;
  /// Names the program in messages, e.g. "Azure CLI (az)".
  std::string display_name;
  /// Tests turn this off to exercise the waitid polling fallback.
  bool use_pidfd = true;
};

struct process_result {
  std::optional<int> exit_code;  ///< nullopt when killed by a signal or unknown
  int signal = 0;                ///< the terminating signal, if any
  std::string out;               ///< everything written to stdout
  std::string err;               ///< everything written to stderr
  std::string path;              ///< the program that was run
  pid_t pid = 0;
};

/// Where `options.program` resolves to (absolute), or nothing when it is not
/// an executable regular file / not found on the effective PATH.
std::optional<std::string> find_program(const process_options& options);

/// Runs the program to completion. A non-zero exit is a result, not an error.
/// Throws keyless::error:
///   errc::process_failed  — not found, or posix_spawn failed (message says why);
///   errc::timeout         — "<display> did not finish within 10 s" (child killed);
///   errc::limit_exceeded  — output cap passed (child killed);
///   errc::invalid_argument — a non-positive timeout or an argument with a NUL byte.
/// Cancellation: terminal (what co_spawn passes on by default); the child is
/// killed and the operation fails with asio::error::operation_aborted.
asio::awaitable<process_result> run_process(process_options options);

/// "10 s", "1.5 s", "250 ms": durations in messages.
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace keyless::identity::detail
