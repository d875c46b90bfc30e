#include "identity/process_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/core.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "keyless/core/error.hpp"
#include "keyless/detail/asio_compat.hpp"

extern char** environ;

namespace keyless::identity::detail {
namespace {

using namespace std::chrono_literals;
using namespace keyless::net::awaitable_operators;

// Exit of a killed child is normally seen through its pidfd at once. The
// pidfd wait is re-armed with a periodic waitid check because Asio's epoll
// reactor is edge-triggered and a readiness edge that fires before the wait
// is queued would otherwise be lost.
constexpr auto pidfd_recheck = 100ms;
// Polling fallback (no pidfd): starts fast, since the pipes have already
// closed and the child is almost always gone, then backs off.
constexpr auto poll_first = 1ms;
constexpr auto poll_max = 50ms;
// Read size per operation; small outputs (az prints ~2 KB) take one read.
constexpr std::size_t read_chunk = 16 * 1024;

// pidfd_open through syscall(): glibc 2.36's <sys/pidfd.h> lacks C linkage
// for C++, and older C libraries lack the wrapper altogether.
int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

[[noreturn]] void throw_errno(errc code, const std::string& what, int error_number) {
  throw keyless::error(code, fmt::format("{}: {}", what, std::strerror(error_number)));
}

// A close-on-exec pipe whose ends are both >= 3, so that a host process
// started with 0/1/2 closed cannot make dup2 onto 1 or 2 a no-op.
std::pair<unique_fd, unique_fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errc::process_failed, "pipe2", errno);
  unique_fd ends[2] = {unique_fd(fds[0]), unique_fd(fds[1])};
  for (auto& end : ends) {
    if (end.get() < 3) {
      const int moved = ::fcntl(end.get(), F_DUPFD_CLOEXEC, 3);
      if (moved < 0) throw_errno(errc::process_failed, "fcntl", errno);
      end = unique_fd(moved);
    }
  }
  return {std::move(ends[0]), std::move(ends[1])};
}

bool has_nul(std::string_view s) noexcept {
  return s.find('\0') != std::string_view::npos;
}

// The inherited environment with `changes` applied (later changes win).
std::vector<std::string> build_environment(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
  const auto changed = [&](std::string_view name) {
    return std::any_of(changes.begin(), changes.end(),
                       [&](const auto& change) { return change.first == name; });
  };
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!changed(text.substr(0, text.find('=')))) env.emplace_back(text);
  }
  for (auto change = changes.rbegin(); change != changes.rend(); ++change) {
    const bool later_change = std::any_of(
        changes.rbegin(), change, [&](const auto& other) { return other.first == change->first; });
    if (!later_change && change->second) env.push_back(change->first + "=" + *change->second);
  }
  return env;
}

std::string effective_path(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return entry.substr(5);
  }
  // Unset PATH: the system default, as execvp would use.
  const std::size_t size = ::confstr(_CS_PATH, nullptr, 0);
  std::string path(size, '\0');
  if (size > 0) {
    ::confstr(_CS_PATH, path.data(), size);
    path.resize(size - 1);
  }
  return path;
}

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> resolve(const std::string& program, const std::string& path) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    std::string absolute = program;
    // Relative to our directory, not the child's (it may run elsewhere).
    if (absolute.front() != '/') {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd) == nullptr) return std::nullopt;
      absolute = std::string(cwd) + "/" + program;
    }
    if (is_executable_file(absolute)) return absolute;
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::string_view dir(path.data() + start, end - start);
    start = end + 1;
    // Empty and relative entries name "the current directory" in some form:
    // a directory neither keyless nor the user chose for this program, and
    // not even the child's own. Skipping them keeps a stray ./az from being
    // run as the Azure CLI.
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate(dir);
    if (candidate.back() != '/') candidate += '/';
    candidate += program;
    if (is_executable_file(candidate)) return candidate;
  }
  return std::nullopt;
}

// A spawned child. Owned by the running operation and then by the reaper;
// the destructor is the last resort if both were torn down early (the
// io_context destroyed mid-run): it kills and reaps synchronously, which
// after SIGKILL takes as long as the kernel needs to tear the process down.
struct child_state {
  pid_t pid = 0;
  bool reaped = false;
  std::optional<asio::posix::stream_descriptor> pidfd;

  child_state(pid_t p, asio::any_io_executor ex, bool use_pidfd) : pid(p) {
    if (use_pidfd) {
      const int fd = open_pidfd(pid);
      if (fd >= 0) pidfd.emplace(ex, fd);
      // ENOSYS (kernel < 5.3) or a seccomp filter: poll instead.
    }
  }
  child_state(const child_state&) = delete;
  child_state& operator=(const child_state&) = delete;

  ~child_state() {
    if (reaped) return;
    kill();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }

  // The child leads its own process group, so this also stops whatever it
  // started (az is a Python program that may spawn helpers). Never called
  // after reaping: only then could the pid belong to someone else.
  void kill() noexcept {
    if (reaped) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);  // in case it left its group
  }

  // Has it exited? Leaves it waitable (WNOWAIT) so reap() gets the status.
  bool exited() noexcept {
    if (reaped) return true;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      return errno == ECHILD;  // reaped by someone else: it is gone
    }
    return info.si_pid != 0;
  }

  // The wait status once reaped; nothing while it still runs or when
  // someone else took the status.
  std::optional<int> reap() noexcept {
    if (reaped) return std::nullopt;
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid) {
      reaped = true;
      return status;
    }
    if (r < 0) reaped = true;  // ECHILD: the host reaps children itself
    return std::nullopt;
  }
};

asio::awaitable<void> wait_for_exit(child_state& child) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(poll_first);
  while (!child.exited()) {
    if (child.pidfd) {
      timer.expires_after(pidfd_recheck);
      co_await (
          child.pidfd->async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable) ||
          timer.async_wait(asio::use_awaitable));
    } else {
      timer.expires_after(interval);
      co_await timer.async_wait(asio::use_awaitable);
      interval = std::min<std::chrono::steady_clock::duration>(interval * 2, poll_max);
    }
  }
}

// Reads one stream to its end. Never throws for I/O: end of file, an error
// and cancellation all just end the stream. Going over `cap` kills the child.
asio::awaitable<void> drain(asio::readable_pipe& pipe, std::string& sink, std::size_t cap,
                            bool& overflow, child_state& child) {
  for (;;) {
    const std::size_t old_size = sink.size();
    // At most one byte over the cap, which is enough to know it was passed.
    const std::size_t want = std::min(read_chunk, cap - old_size + 1);
    sink.resize(old_size + want);
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(sink.data() + old_size, want),
                                                 net::as_tuple(asio::use_awaitable));
    sink.resize(old_size + n);
    if (sink.size() > cap) {
      sink.resize(cap);
      overflow = true;
      child.kill();
      co_return;
    }
    if (ec) co_return;
  }
}

struct run_state {
  asio::readable_pipe out;
  asio::readable_pipe err;
  std::shared_ptr<child_state> child;
  process_result result;
  bool out_overflow = false;
  bool err_overflow = false;
  std::size_t cap = 0;
};

// Both streams to their end, then the exit. The references stay valid: the
// caller awaits this coroutine before its frame goes away.
asio::awaitable<void> collect(run_state& s) {
  co_await (drain(s.out, s.result.out, s.cap, s.out_overflow, *s.child) &&
            drain(s.err, s.result.err, s.cap, s.err_overflow, *s.child));
  co_await wait_for_exit(*s.child);
}

asio::awaitable<void> reap_in_background(std::shared_ptr<child_state> child) {
  try {
    co_await wait_for_exit(*child);
  } catch (...) {
    // Only if the io_context is shutting down; the destructor then reaps.
  }
  child->reap();
}

struct spawn_actions {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  spawn_actions() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~spawn_actions() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  spawn_actions(const spawn_actions&) = delete;
  spawn_actions& operator=(const spawn_actions&) = delete;
};

void check_spawn_setup(int rc, const char* step) {
  if (rc != 0) throw_errno(errc::process_failed, fmt::format("posix_spawn setup ({})", step), rc);
}

}  // namespace

std::string describe_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
  if (ms < 1000) return fmt::format("{} ms", ms);
  return fmt::format("{} s", static_cast<double>(ms) / 1000.0);
}

std::optional<std::string> find_program(const process_options& options) {
  return resolve(options.program, effective_path(build_environment(options.environment)));
}

asio::awaitable<process_result> run_process(process_options options) {
  const std::string name = options.display_name.empty() ? options.program : options.display_name;
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: the process timeout must be positive", name));
  }
  if (has_nul(options.program) || has_nul(options.working_directory) ||
      std::any_of(options.arguments.begin(), options.arguments.end(), has_nul) ||
      std::any_of(options.environment.begin(), options.environment.end(), [](const auto& e) {
        return has_nul(e.first) || e.first.find('=') != std::string::npos ||
               (e.second && has_nul(*e.second));
      })) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: an argument or environment entry cannot be passed "
                                     "to a program (it contains a NUL byte or a bad name)",
                                     name));
  }

  // Cancelled before it started: do not start a program only to kill it.
  if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
    throw std::system_error(asio::error::operation_aborted);
  }

  const std::vector<std::string> env = build_environment(options.environment);
  const auto path = resolve(options.program, effective_path(env));
  if (!path) {
    throw keyless::error(errc::process_failed,
                         fmt::format("{}: '{}' was not found", name, options.program));
  }

  auto [out_read, out_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();

  std::vector<char*> argv;
  argv.reserve(options.arguments.size() + 2);
  argv.push_back(options.program.data());
  for (auto& argument : options.arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const auto& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  {
    spawn_actions spawn;
    check_spawn_setup(
        ::posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null", O_RDONLY, 0), "stdin");
    check_spawn_setup(::posix_spawn_file_actions_adddup2(&spawn.actions, out_write.get(), 1),
                      "stdout");
    check_spawn_setup(::posix_spawn_file_actions_adddup2(&spawn.actions, err_write.get(), 2),
                      "stderr");
    // Nothing else of ours leaks into the child, even descriptors another
    // thread opened without O_CLOEXEC.
    check_spawn_setup(::posix_spawn_file_actions_addclosefrom_np(&spawn.actions, 3), "closefrom");
    if (!options.working_directory.empty()) {
      check_spawn_setup(
          ::posix_spawn_file_actions_addchdir_np(&spawn.actions, options.working_directory.c_str()),
          "chdir");
    }
    // Own process group (so a kill reaches its helpers too), no blocked
    // signals, and default dispositions: a server that ignores SIGPIPE must
    // not pass that on.
    sigset_t none;
    sigset_t all;
    ::sigemptyset(&none);
    ::sigfillset(&all);
    check_spawn_setup(::posix_spawnattr_setsigmask(&spawn.attributes, &none), "sigmask");
    check_spawn_setup(::posix_spawnattr_setsigdefault(&spawn.attributes, &all), "sigdefault");
    check_spawn_setup(::posix_spawnattr_setpgroup(&spawn.attributes, 0), "pgroup");
    check_spawn_setup(::posix_spawnattr_setflags(&spawn.attributes, POSIX_SPAWN_SETPGROUP |
                                                                        POSIX_SPAWN_SETSIGMASK |
                                                                        POSIX_SPAWN_SETSIGDEF),
                      "flags");
    const int rc = ::posix_spawn(&pid, path->c_str(), &spawn.actions, &spawn.attributes,
                                 argv.data(), envp.data());
    if (rc != 0) {
      throw keyless::error(errc::process_failed, fmt::format("{}: could not start '{}': {}", name,
                                                             *path, std::strerror(rc)));
    }
  }
  out_write.reset();
  err_write.reset();

  auto ex = co_await asio::this_coro::executor;
  run_state state{asio::readable_pipe(ex, out_read.release()),
                  asio::readable_pipe(ex, err_read.release()),
                  std::make_shared<child_state>(pid, ex, options.use_pidfd),
                  {},
                  false,
                  false,
                  options.max_output};
  state.result.path = *path;
  state.result.pid = pid;
  keyless::detail::log(log_level::verbose, "{}: started '{}' (pid {})", name, *path, pid);

  bool timed_out = false;
  bool failed = false;
  {
    asio::steady_timer deadline(ex, options.timeout);
    try {
      auto winner = co_await (collect(state) || deadline.async_wait(asio::use_awaitable));
      timed_out = winner.index() == 1;
    } catch (...) {
      // Both branches failed: only cancellation does that (checked below).
      failed = true;
    }
  }
  const auto cancellation = (co_await asio::this_coro::cancellation_state).cancelled();
  const bool cancelled = cancellation != asio::cancellation_type::none;
  const bool overflow = state.out_overflow || state.err_overflow;

  if (!cancelled && !timed_out && !overflow && !failed) {
    if (auto status = state.child->reap()) {
      if (WIFEXITED(*status)) {
        state.result.exit_code = WEXITSTATUS(*status);
      } else if (WIFSIGNALED(*status)) {
        state.result.signal = WTERMSIG(*status);
      }
      co_return std::move(state.result);
    }
    if (state.child->reaped) co_return std::move(state.result);  // status taken by the host
  }

  state.child->kill();
  asio::co_spawn(ex, reap_in_background(state.child), asio::detached);

  if (cancelled) {
    keyless::detail::log(log_level::verbose, "{}: cancelled; stopped pid {}", name, pid);
    throw std::system_error(asio::error::operation_aborted);
  }
  if (overflow) {
    throw keyless::error(errc::limit_exceeded,
                         fmt::format("{} wrote more than {} bytes to {}; it was stopped", name,
                                     options.max_output, state.out_overflow ? "stdout" : "stderr"));
  }
  if (timed_out) {
    throw keyless::error(errc::timeout, fmt::format("{} did not finish within {}; it was stopped",
                                                    name, describe_duration(options.timeout)));
  }
  throw keyless::error(errc::process_failed,
                       fmt::format("{}: lost track of pid {}; it was stopped", name, pid));
}

}  // namespace keyless::identity::detail
