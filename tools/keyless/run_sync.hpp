#pragma once
// Runs one coroutine to completion on a private io_context: the keyless command is a short-lived
// program doing one thing at a time, so blocking its main thread is what it should do.

#include <exception>
#include <optional>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace keyless::cli {

/// Runs `operation` and everything it started (cancelled chain losers, subprocesses) until the
/// io_context has no work left; returns its value or rethrows its exception.
template <typename T>
T run_sync(asio::io_context& io, asio::awaitable<T> operation) {
  std::optional<T> result;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) result.emplace(std::move(value));
  });
  io.run();
  io.restart();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

}  // namespace keyless::cli
