#pragma once
// Shared pieces of the chat suites: a credential issuing JWT-shaped tokens, a fixture with
// a fake Azure OpenAI on loopback TLS and a manual clock, and helpers to drive calls.

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "fake_entra.hpp"
#include "fake_openai.hpp"
#include "io_helpers.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/openai/chat_client.hpp"

namespace keyless::chat_test {

using namespace std::chrono_literals;

inline constexpr std::string_view cognitive_scope = "https://cognitiveservices.azure.com/.default";
inline constexpr std::string_view default_object_id = "7c1e0d2a-5b4f-4e3a-9d8c-1a2b3c4d5e6f";

/// A token_credential issuing JWT-shaped tokens (as the fake Entra does): `aud` is the
/// requested scope without "/.default" (or `audience` when set), `exp` is the clock's now plus
/// `lifetime`. Counts calls and keeps every request and token. Thread-safe.
class jwt_credential final : public identity::token_credential {
 public:
  jwt_credential(asio::any_io_executor ex, std::shared_ptr<const keyless::clock> clock,
                 std::chrono::seconds lifetime = std::chrono::hours(1))
      : ex_(std::move(ex)), clock_(std::move(clock)), lifetime_(lifetime) {}

  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "JwtTestCredential"; }

  asio::awaitable<identity::access_token> get_token(identity::token_request req) override {
    std::string audience;
    std::string object_id;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
      audience = audience_;
      object_id = object_id_;
    }
    calls_.fetch_add(1);
    if (audience.empty() && !req.scopes.empty()) {
      audience = req.scopes.front();
      constexpr std::string_view suffix = "/.default";
      if (audience.ends_with(suffix)) audience.resize(audience.size() - suffix.size());
    }
    testing::fake_token_claims claims;
    claims.tenant_id = "11111111-2222-3333-4444-555555555555";
    claims.object_id = object_id;
    claims.audience = audience;
    claims.app_id = "aaaaaaaa-0000-0000-0000-000000000001";
    claims.issued_at = clock_->now();
    claims.expires_on = clock_->now() + lifetime_;
    std::string token = testing::make_fake_access_token(claims);
    {
      std::lock_guard lock(mutex_);
      issued_.push_back(token);
    }
    co_return identity::access_token(std::move(token), claims.expires_on);
  }

  int calls() const { return calls_.load(); }
  std::vector<identity::token_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// Tokens issued so far, in order. Credentials: compare, never print.
  std::vector<std::string> issued() const {
    std::lock_guard lock(mutex_);
    return issued_;
  }
  void set_audience(std::string audience) {
    std::lock_guard lock(mutex_);
    audience_ = std::move(audience);
  }
  void set_object_id(std::string id) {
    std::lock_guard lock(mutex_);
    object_id_ = std::move(id);
  }

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<const keyless::clock> clock_;
  std::chrono::seconds lifetime_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  std::vector<identity::token_request> requests_;
  std::vector<std::string> issued_;
  std::string audience_;
  std::string object_id_{default_object_id};
};

/// Runs `io` until `done()` holds, failing after `limit` of real time (an upper bound only).
template <typename Predicate>
void run_until(asio::io_context& io, Predicate done, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("run_until: the condition did not hold in time");
    }
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
}

/// Waits until `chat` sleeps on `clock` after its `attempts`-th attempt, then moves the clock
/// by `delay`. (A woken sleeper counts until its coroutine resumes, so the attempt count is
/// what tells one sleep from the next.)
inline void wake_after(asio::io_context& io, manual_clock& clock, const openai::chat_client& chat,
                       std::uint64_t attempts, std::chrono::milliseconds delay) {
  run_until(io, [&] { return chat.stats().attempts == attempts && clock.sleepers() == 1; });
  clock.advance(delay);
}

/// The outcome of a call spawned with spawn_call.
template <typename T>
struct call_result {
  bool done = false;
  std::exception_ptr failure;
  std::optional<T> value;

  /// The keyless::error the call failed with; throws std::logic_error when it did not fail
  /// that way.
  keyless::error error() const {
    if (!failure) throw std::logic_error("the call did not fail");
    try {
      std::rethrow_exception(failure);
    } catch (const keyless::error& e) {
      return e;
    } catch (const std::exception& e) {
      throw std::logic_error(std::string("the call failed with another exception: ") + e.what());
    }
  }
};

/// co_spawns `task` on `io` and records its outcome into the returned state.
template <typename T>
std::shared_ptr<call_result<T>> spawn_call(asio::io_context& io, asio::awaitable<T> task) {
  auto r = std::make_shared<call_result<T>>();
  asio::co_spawn(io, std::move(task), [r](std::exception_ptr e, T value) {
    r->failure = e;
    if (!e) r->value.emplace(std::move(value));
    r->done = true;
  });
  return r;
}

/// The keyless::error `task` fails with; throws std::logic_error when it succeeds.
template <typename T>
keyless::error failure_of(asio::io_context& io, asio::awaitable<T> task) {
  auto r = spawn_call(io, std::move(task));
  run_until(io, [&] { return r->done; });
  return r->error();
}

/// Reads a stream to its end, returning the chunks; rethrows a failure after recording the
/// chunks read before it into `before_failure`.
inline asio::awaitable<std::vector<openai::chat_chunk>> read_all(
    openai::chat_stream& s, std::vector<openai::chat_chunk>* before_failure = nullptr) {
  std::vector<openai::chat_chunk> out;
  try {
    while (auto chunk = co_await s.next()) out.push_back(std::move(*chunk));
  } catch (...) {
    if (before_failure) *before_failure = out;
    throw;
  }
  co_return out;
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

inline openai::chat_request hello_request() {
  openai::chat_request req;
  req.messages.push_back({"user", "Hello"});
  return req;
}

/// Client options pointing at `fake` (trusting only its CA), on `clock`, with deterministic
/// jitter and an empty environment; `auth` still unset.
inline openai::chat_client_options client_options(const testing::fake_openai& fake,
                                                  std::shared_ptr<manual_clock> clock) {
  openai::chat_client_options o;
  o.endpoint = fake.endpoint();
  o.deployment = "gpt-4o-mini";
  o.http.tls.use_system_trust_store = false;
  o.http.tls.ca_pem = fake.ca_certificate_pem();
  o.http.proxy = http::proxy_settings{};
  o.clock = std::move(clock);
  o.random = [] {
    return 0.0;
  };
  o.environment = identity::environment_map{};
  return o;
}

/// A fake Azure OpenAI and a manual clock on one io_context.
struct chat_fixture {
  asio::io_context io;
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  testing::fake_openai fake;
  std::shared_ptr<jwt_credential> credential;

  explicit chat_fixture(testing::fake_openai_options o = default_fake_options())
      : fake(io.get_executor(), with_clock(std::move(o), clock)),
        credential(std::make_shared<jwt_credential>(io.get_executor(), clock)) {}

  static testing::fake_openai_options default_fake_options() {
    testing::fake_openai_options o;
    o.api_key = "test-resource-key-0123456789";
    return o;
  }
  static testing::fake_openai_options with_clock(testing::fake_openai_options o,
                                                 std::shared_ptr<manual_clock> c) {
    if (!o.clock) o.clock = std::move(c);
    return o;
  }

  /// client_options() for this fixture's fake and clock.
  openai::chat_client_options options() { return client_options(fake, clock); }

  openai::chat_client_options key_options() {
    auto o = options();
    o.auth = openai::api_key{"test-resource-key-0123456789"};
    return o;
  }

  /// A provider over `credential` with a cache on the manual clock.
  identity::bearer_token_provider provider(std::string scope = std::string(cognitive_scope),
                                           identity::token_cache_options cache = {}) {
    if (!cache.clock) cache.clock = clock;
    cache.max_refresh_jitter = 0s;
    auto c = std::make_shared<identity::token_cache>(credential, std::move(cache));
    return identity::bearer_token_provider(c, std::move(scope));
  }

  openai::chat_client_options token_options() {
    auto o = options();
    o.auth = provider();
    return o;
  }
};

}  // namespace keyless::chat_test
