#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "async_test_support.hpp"
#include "fake_credential.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_cache.hpp"

namespace keyless::test {

inline constexpr const char* openai_scope = "https://cognitiveservices.azure.com/.default";

/// How one call ended.
struct outcome {
  bool done = false;
  std::exception_ptr error;
  identity::access_token token;

  std::error_code code() const { return keyless::inspect(error).code; }
  std::string message() const { return keyless::inspect(error).message; }
  std::string text() const { return std::string(token.token()); }
};

/// A completion handler that fills `o`; `o` must outlive the operation.
inline auto record(outcome& o) {
  return [&o](std::exception_ptr e, identity::access_token t) {
    o.done = true;
    o.error = std::move(e);
    o.token = std::move(t);
  };
}

/// A single-threaded cache on a manual clock with a scriptable credential.
/// Declaration order matters: the context outlives everything that posts to it.
struct cache_fixture {
  asio::io_context io;
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  std::shared_ptr<fake_credential> source =
      std::make_shared<fake_credential>(io.get_executor(), clock);
  double jitter = 0.0;
  std::shared_ptr<identity::token_cache> cache =
      std::make_shared<identity::token_cache>(source, options());
  identity::bearer_token_provider provider{cache, openai_scope};

  identity::token_cache_options options() {
    identity::token_cache_options o;
    o.clock = clock;
    o.random = [this] {
      return jitter;
    };
    return o;
  }

  /// `co_await provider()` run to completion (the credential must not be held).
  outcome get() {
    outcome o;
    asio::co_spawn(io, provider(), record(o));
    run_until_idle(io);
    return o;
  }

  void run() { run_until_idle(io); }
};

}  // namespace keyless::test
