#pragma once
// Helpers for the credential source tests: trust settings for the loopback fakes, manual
// time driving over real sockets, failure capture, temporary files.

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/client_options.hpp"
#include "loopback_client.hpp"
#include "temp_dir.hpp"
#include "text_contains.hpp"

namespace sources_test {

using namespace std::chrono_literals;

using keyless::testing::closed_port;
using keyless::testing::trusting;  // requests time out after 20 s

/// What a failed operation threw.
struct failure {
  std::error_code code;
  std::string message;
  keyless::diagnostics details;
};

namespace detail {
template <typename T>
struct outcome {
  bool done = false;
  std::exception_ptr error;
  std::optional<T> value;
};
}  // namespace detail

/// Runs `task` on `io` until it completes, moving `clock` forward in `step`s whenever a
/// coroutine sleeps on it and nothing else is ready (so retry delays pass in manual time
/// while sockets stay real). Throws std::runtime_error after `limit` of wall time.
template <typename T>
T run_manual(asio::io_context& io, keyless::manual_clock& clock, asio::awaitable<T> task,
             std::chrono::milliseconds step = 100ms, std::chrono::seconds limit = 60s) {
  auto state = std::make_shared<detail::outcome<T>>();
  asio::co_spawn(io, std::move(task), [state](std::exception_ptr e, T value) {
    state->error = e;
    if (!e) state->value.emplace(std::move(value));
    state->done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!state->done) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("run_manual: the task did not finish in time");
    }
    if (io.stopped()) io.restart();
    if (clock.sleepers() > 0) {
      io.poll();
      if (state->done) break;
      if (clock.sleepers() > 0) {
        clock.advance(step);
        continue;
      }
    }
    io.run_one_for(5ms);
  }
  if (io.stopped()) io.restart();
  if (state->error) std::rethrow_exception(state->error);
  return std::move(*state->value);
}

/// Runs `task` expecting a keyless::error; returns what it carried. Throws
/// std::logic_error when the task succeeds (so a test cannot pass by accident).
template <typename T>
failure expect_failure(asio::io_context& io, keyless::manual_clock& clock,
                       asio::awaitable<T> task) {
  try {
    run_manual(io, clock, std::move(task));
  } catch (const keyless::error& e) {
    return {e.code(), e.message(), e.details()};
  }
  throw std::logic_error("expected the operation to fail, but it succeeded");
}

using keyless::testing::contains;

/// The keyless::error a constructor (or factory) throws from inside `f`.
inline keyless::error construction_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    return e;
  }
  throw std::logic_error("expected construction to fail");
}

/// A fresh directory under the system temp dir, removed with its contents on destruction.
using keyless::testing::temp_dir;

inline void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace sources_test
