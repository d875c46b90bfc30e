#pragma once
// Runs programs for the suites that drive real binaries (keyless, keyless-emulator, the
// examples): posix_spawn from an argument vector (never a shell command line), exactly the
// environment given, stdin from /dev/null, stdout and stderr through pipes, every wait bounded.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keyless::testing {

/// How a finished program ended, with everything it wrote. Its output may hold tokens: tests
/// compare it, never print it.
struct run_result {
  int exit_code = -1;      ///< -1 when it died of a signal
  int signal = 0;          ///< the signal that ended it, if any
  bool timed_out = false;  ///< killed (SIGKILL) because the limit passed
  std::string out;
  std::string err;
};

/// A started program whose output is read through pipes.
class child_process {
 public:
  /// Starts `argv[0]` (a path) with `argv` and exactly the variables in `env` (NAME=value).
  /// Throws std::runtime_error naming the step that failed.
  child_process(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  /// Kills (SIGKILL) and reaps the program if it is still running.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// Reads stdout until a line equal to `line` arrives; returns everything read so far.
  /// Throws std::runtime_error (with the output seen) when stdout ends or `limit` passes first.
  std::string read_until_line(const std::string& line, std::chrono::milliseconds limit);

  /// Sends `signal`.
  void signal(int signal_number);

  /// Waits for the program to end, collecting the rest of its output. Returns the exit status,
  /// or nullopt when `limit` passed (the program is then still running) or it died of a
  /// signal (then terminating_signal() says which).
  std::optional<int> wait(std::chrono::milliseconds limit);
  int terminating_signal() const noexcept { return signal_; }

  /// Waits up to `limit` for the program to end; kills it (SIGKILL) once the limit passes.
  run_result finish(std::chrono::milliseconds limit);

  const std::string& out() const noexcept { return out_; }
  const std::string& err() const noexcept { return err_; }

 private:
  // Reads what is available from both pipes, waiting at most `timeout`.
  void pump(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  int signal_ = 0;
  std::string out_;
  std::string err_;
};

/// Starts `argv` with `env` and finish()es it.
run_result run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       std::chrono::milliseconds limit = std::chrono::seconds(30));

/// The output of `env`: NAME=value lines (values without newlines) into a map.
std::map<std::string, std::string, std::less<>> parse_env_output(const std::string& text);

}  // namespace keyless::testing
