#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace keyless::testing {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void fail(const std::string& what, int error) {
  throw std::runtime_error(what + ": " + std::strerror(error));
}

}  // namespace

child_process::child_process(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail("pipe", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    fail("pipe", error);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // The child starts with default signal dispositions whatever the test runner set.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  auto args = c_strings(argv);
  auto vars = c_strings(env);
  const int rc =
      ::posix_spawn(&pid_, argv.at(0).c_str(), &actions, &attributes, args.data(), vars.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (rc != 0) {
    ::close(out_fd_);
    ::close(err_fd_);
    fail("cannot start " + argv.at(0), rc);
  }
}

child_process::~child_process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void child_process::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  nfds_t count = 0;
  if (out_fd_ >= 0) fds[count++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[count++] = {err_fd_, POLLIN, 0};
  if (count == 0) return;
  const int ready = ::poll(fds, count, static_cast<int>(timeout.count()));
  if (ready <= 0) return;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].revents == 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
    const bool is_out = fds[i].fd == out_fd_;
    if (n > 0) {
      (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      ::close(fds[i].fd);
      (is_out ? out_fd_ : err_fd_) = -1;
    }
  }
}

std::string child_process::read_until_line(const std::string& line,
                                           std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (out_ == line + "\n" || out_.starts_with(line + "\n") ||
        out_.find("\n" + line + "\n") != std::string::npos) {
      return out_;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (out_fd_ < 0 && err_fd_ < 0)) {
      throw std::runtime_error("no '" + line + "' line; stdout: " + out_ + " stderr: " + err_);
    }
    if (out_fd_ < 0) {
      throw std::runtime_error("stdout ended before '" + line + "'; stdout: " + out_ +
                               " stderr: " + err_);
    }
    pump(std::min(left, std::chrono::milliseconds(100)));
  }
}

void child_process::signal(int signal_number) {
  if (!reaped_) ::kill(pid_, signal_number);
}

std::optional<int> child_process::wait(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (!reaped_) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        if (WIFSIGNALED(status)) signal_ = WTERMSIG(status);
        // Collect what the program wrote before it ended.
        while (out_fd_ >= 0 || err_fd_ >= 0) pump(std::chrono::milliseconds(1000));
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return std::nullopt;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (out_fd_ >= 0 || err_fd_ >= 0) {
      pump(std::min(left, std::chrono::milliseconds(20)));
    } else {
      ::poll(nullptr, 0, 20);  // pipes closed, process not yet reaped: check again shortly
    }
  }
}

run_result child_process::finish(std::chrono::milliseconds limit) {
  run_result result;
  auto code = wait(limit);
  if (!reaped_) {
    result.timed_out = true;
    ::kill(pid_, SIGKILL);
    code = wait(std::chrono::seconds(10));
  }
  result.exit_code = code.value_or(-1);
  result.signal = signal_;
  result.out = out_;
  result.err = err_;
  return result;
}

run_result run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       std::chrono::milliseconds limit) {
  child_process child(argv, env);
  return child.finish(limit);
}

std::map<std::string, std::string, std::less<>> parse_env_output(const std::string& text) {
  std::map<std::string, std::string, std::less<>> vars;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const auto equals = line.find('=');
    if (equals != std::string::npos) vars[line.substr(0, equals)] = line.substr(equals + 1);
    start = end + 1;
  }
  return vars;
}

}  // namespace keyless::testing
