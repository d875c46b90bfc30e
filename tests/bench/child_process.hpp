#pragma once
// Runs a program as a child process with an argument vector (posix_spawn, never a shell),
// capturing stdout and stderr, with a wall-clock limit so a hung child fails the test instead
// of the suite.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace keyless::bench_test {

struct child_result {
  int exit_code = -1;  ///< -1 when killed by a signal
  int signal = 0;      ///< the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;
};

/// A running child. Not copyable; the destructor kills a child still running.
class child_process {
 public:
  /// Starts `argv[0]` (a path) with `argv` and exactly the environment `env` ("NAME=value").
  /// Throws std::runtime_error when it cannot be started.
  child_process(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void send_signal(int signal) const;

  /// Reads both streams until the child exits; kills it (SIGKILL) once `limit` passes.
  child_result finish(std::chrono::steady_clock::duration limit);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

/// This process's environment without the variables that would change what a credential
/// or a client does (AZURE_*, IDENTITY_*, MSI_*, IMDS_*, OPENAI_*, SSL_CERT_*, proxies),
/// plus `extra`.
std::vector<std::string> clean_environment(const std::vector<std::string>& extra);

/// Runs `argv` to completion with `env` (see child_process).
child_result run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       std::chrono::steady_clock::duration limit);

}  // namespace keyless::bench_test
