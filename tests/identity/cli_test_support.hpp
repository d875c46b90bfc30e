#pragma once
// Helpers shared by the process runner and CLI credential tests.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <ostream>

#include "keyless/core/error.hpp"
#include "keyless/identity/token_request.hpp"
#include "temp_dir.hpp"

namespace keyless {
// Lets BOOST_TEST print errc values in failure messages.
inline std::ostream& operator<<(std::ostream& os, errc e) {
  return os << make_error_code(e).message();
}
}  // namespace keyless

namespace keyless_test {

inline std::string fakes_dir() {
  return KEYLESS_FAKES_DIR;
}

using keyless::testing::temp_dir;

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The NUL-separated argv the fake recorded.
inline std::vector<std::string> recorded_argv(const temp_dir& dir) {
  std::vector<std::string> args;
  auto text = read_file(dir / "argv");
  if (!text) return args;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text->size(); ++i) {
    if ((*text)[i] == '\0') {
      args.push_back(text->substr(start, i - start));
      start = i + 1;
    }
  }
  return args;
}

inline std::optional<pid_t> recorded_pid(const temp_dir& dir, const char* name = "pid") {
  auto text = read_file(dir / name);
  if (!text || text->empty()) return std::nullopt;
  return static_cast<pid_t>(std::stol(*text));
}

/// True once no process with this pid exists (not even a zombie).
inline bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// True once `pid` has died (gone, or a zombie left for init to reap). Death
/// after SIGKILL is asynchronous for processes that are not our children,
/// so this polls, up to a generous bound.
inline bool process_dies(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (process_gone(pid)) return true;
    const auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    const auto paren = stat->rfind(')');
    if (paren != std::string::npos && stat->compare(paren, 4, ") Z ") == 0) return true;
    ::usleep(10'000);
  }
  return false;
}

/// A keyless::error's parts (message without what()'s suffix).
struct failure {
  std::error_code code;
  std::string message;
  keyless::diagnostics details;
};

inline failure failure_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const keyless::error& ex) {
    return {ex.code(), ex.message(), ex.details()};
  } catch (const std::system_error& ex) {
    return {ex.code(), ex.what(), {}};
  } catch (const std::exception& ex) {
    return {std::make_error_code(std::errc::io_error), ex.what(), {}};
  }
}

/// Open descriptors of this process.
inline std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n - 1;  // the iterator's own descriptor
}

/// True when this process has no children at all, running or zombie.
inline bool no_children() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

/// Sets or unsets an environment variable for the object's lifetime.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// Sets TZ for the object's lifetime; tzset() re-reads it on the way in and, once restored, out.
class scoped_tz {
 public:
  explicit scoped_tz(const char* zone) : env_(std::in_place, "TZ", zone) { ::tzset(); }
  ~scoped_tz() {
    env_.reset();
    ::tzset();
  }

 private:
  std::optional<scoped_env> env_;
};

/// Outcome of an awaitable run to completion on a private io_context.
template <typename T>
struct outcome {
  std::exception_ptr error;
  std::optional<T> value;
  bool finished = false;
};

/// Runs `make()`'s awaitable on `io` until it and everything it left behind
/// (a background reaper) is done, with a generous upper bound.
template <typename T, typename Make>
outcome<T> run_on(asio::io_context& io, Make make,
                  asio::cancellation_slot slot = asio::cancellation_slot()) {
  outcome<T> result;
  asio::co_spawn(io, make(), asio::bind_cancellation_slot(slot, [&](std::exception_ptr e, T value) {
                   result.finished = true;
                   result.error = e;
                   if (!e) result.value.emplace(std::move(value));
                 }));
  io.run_for(std::chrono::seconds(60));
  io.restart();
  return result;
}

/// A token request for `scopes`, as the CLI credential tests send it.
inline keyless::identity::token_request req(std::vector<std::string> scopes,
                                            std::optional<std::string> tenant = {},
                                            std::optional<std::string> claims = {}) {
  keyless::identity::token_request r;
  r.scopes = std::move(scopes);
  r.tenant = std::move(tenant);
  r.claims = std::move(claims);
  return r;
}

template <typename T>
failure inspect(const outcome<T>& r) {
  return failure_of(r.error);
}

}  // namespace keyless_test
