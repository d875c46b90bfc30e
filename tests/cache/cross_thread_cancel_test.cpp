// A caller on one thread cancels a public operation whose coroutine runs on an
// executor driven by another thread. Asio 1.22's co_spawn would run the
// coroutine's cancellation bookkeeping on the caller's thread, racing with the
// coroutine; ThreadSanitizer (this suite runs in scripts/test's TSan stage)
// reports that. Every caller here emits while the operation is pending, a few
// hundred times with varying timing.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include "cache_fixture.hpp"
#include "io_thread.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::bearer_token_provider;
using keyless::identity::token_cache;
using keyless::identity::token_cache_options;
using keyless::identity::token_credential;
using keyless::identity::token_request;
using keyless::test::fake_credential;
using keyless::testing::hop;
using keyless::testing::io_thread;
using keyless::testing::run_on;

constexpr int rounds = 300;

token_request request() {
  token_request r;
  r.scopes.emplace_back(keyless::test::openai_scope);
  return r;
}

// Never answers: spins on zero-length timer waits until it is cancelled. Every
// turn reads the coroutine's cancellation state and installs and clears a
// handler in its slot on the credential's own thread, so a cancellation that is
// not delivered on that thread races with it.
class spinning_credential final : public token_credential {
 public:
  explicit spinning_credential(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "SpinningCredential"; }

  asio::awaitable<access_token> get_token(token_request) override {
    started_.fetch_add(1);
    asio::steady_timer timer(ex_);
    try {
      // Bounded so that a lost cancellation fails the test instead of hanging it.
      for (int turn = 0; turn < 1'000'000; ++turn) {
        timer.expires_after(0s);
        co_await timer.async_wait(asio::use_awaitable);
      }
    } catch (const std::system_error& e) {
      if (e.code() == asio::error::operation_aborted) aborted_.fetch_add(1);
      throw;
    }
    throw std::runtime_error("SpinningCredential was never cancelled");
  }

  int started() const { return started_.load(); }
  int aborted() const { return aborted_.load(); }

 private:
  asio::any_io_executor ex_;
  std::atomic<int> started_{0};
  std::atomic<int> aborted_{0};
};

// Waits (turning the caller's executor over) until `credential` has started
// `count` calls, then turns it over `hops` more times.
asio::awaitable<void> after_start(std::shared_ptr<const spinning_credential> credential, int count,
                                  int hops) {
  while (credential->started() < count) co_await hop(1);
  co_await hop(hops);
}

asio::awaitable<void> emit_after(std::shared_ptr<asio::cancellation_signal> signal,
                                 asio::awaitable<void> wait) {
  co_await std::move(wait);
  signal->emit(asio::cancellation_type::terminal);
}

auto with_slot(const std::shared_ptr<asio::cancellation_signal>& signal) {
  return asio::bind_cancellation_slot(signal->slot(), keyless::net::as_tuple(asio::use_awaitable));
}

// On the caller's thread: each round starts async_get_token with a slot of the
// caller's own and emits on it while the credential spins on its thread.
asio::awaitable<std::vector<std::error_code>> get_and_cancel(
    std::shared_ptr<spinning_credential> credential) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::error_code> codes;
  for (int round = 0; round < rounds; ++round) {
    auto signal = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(ex, emit_after(signal, after_start(credential, round + 1, round % 16)),
                   asio::detached);
    auto [e, token] = co_await credential->async_get_token(request(), with_slot(signal));
    codes.push_back(keyless::inspect(e).code);
  }
  co_return codes;
}

// On the caller's thread: each round races async_get_token against a few turns
// of the caller's executor; `||` cancels the loser from the caller's thread.
asio::awaitable<std::vector<std::size_t>> race_and_cancel(
    std::shared_ptr<spinning_credential> credential) {
  using namespace keyless::net::awaitable_operators;
  std::vector<std::size_t> winners;
  for (int round = 0; round < rounds; ++round) {
    auto result = co_await (credential->async_get_token(request()) ||
                            after_start(credential, round + 1, round % 16));
    winners.push_back(result.index());
  }
  co_return winners;
}

// On the caller's thread: each round asks the provider (whose fetch is parked on
// the credential's thread) through a slot of the caller's own and emits on it.
asio::awaitable<std::vector<std::error_code>> provider_get_and_cancel(
    bearer_token_provider provider) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::error_code> codes;
  for (int round = 0; round < rounds; ++round) {
    auto signal = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(ex, emit_after(signal, hop(1 + round % 16)), asio::detached);
    auto [e, token] = co_await provider.get(0s, with_slot(signal));
    codes.push_back(keyless::inspect(e).code);
  }
  co_return codes;
}

// On the caller's thread: every call completes, then the caller emits on the
// same slot; every other round it also lets the relayed cancel reach the
// credential's executor before the slot is used for the next call.
asio::awaitable<std::vector<std::error_code>> cancel_after_completion(
    std::shared_ptr<fake_credential> credential) {
  auto signal = std::make_shared<asio::cancellation_signal>();
  std::vector<std::error_code> codes;
  for (int round = 0; round < rounds; ++round) {
    auto [e, token] = co_await credential->async_get_token(request(), with_slot(signal));
    codes.push_back(keyless::inspect(e).code);
    signal->emit(asio::cancellation_type::terminal);
    if (round % 2 == 1) co_await asio::post(credential->get_executor(), asio::use_awaitable);
  }
  co_return codes;
}

void check_all_aborted(const std::vector<std::error_code>& codes) {
  BOOST_REQUIRE_EQUAL(codes.size(), static_cast<std::size_t>(rounds));
  for (const auto& code : codes) {
    BOOST_TEST(code == std::error_code(asio::error::operation_aborted), code.message());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cross_thread_cancel)

BOOST_AUTO_TEST_CASE(a_cancel_from_the_callers_thread_aborts_get_token_running_on_another) {
  io_thread credential_thread;
  io_thread caller_thread;
  auto credential = std::make_shared<spinning_credential>(credential_thread.io.get_executor());

  check_all_aborted(run_on(caller_thread, get_and_cancel(credential)));

  BOOST_TEST(credential->started() == rounds);
  BOOST_TEST(credential->aborted() == rounds);
}

BOOST_AUTO_TEST_CASE(an_or_on_the_callers_thread_cancels_get_token_running_on_another) {
  io_thread credential_thread;
  io_thread caller_thread;
  auto credential = std::make_shared<spinning_credential>(credential_thread.io.get_executor());

  const auto winners = run_on(caller_thread, race_and_cancel(credential));

  BOOST_REQUIRE_EQUAL(winners.size(), static_cast<std::size_t>(rounds));
  for (auto winner : winners) BOOST_TEST(winner == 1u);
  BOOST_TEST(credential->started() == rounds);
  BOOST_TEST(credential->aborted() == rounds);
}

BOOST_AUTO_TEST_CASE(a_cancel_from_the_callers_thread_aborts_a_provider_call_the_fetch_goes_on) {
  io_thread credential_thread;
  io_thread caller_thread;
  auto clock = std::make_shared<keyless::manual_clock>();
  auto source = std::make_shared<fake_credential>(credential_thread.io.get_executor(), clock);
  source->hold();
  token_cache_options options;
  options.clock = clock;
  auto cache = std::make_shared<token_cache>(source, options);
  bearer_token_provider provider(cache, keyless::test::openai_scope);

  check_all_aborted(run_on(caller_thread, provider_get_and_cancel(provider)));

  source->release();
  auto token = asio::co_spawn(caller_thread.io, provider(), asio::use_future);
  BOOST_REQUIRE(token.wait_for(120s) == std::future_status::ready);
  BOOST_TEST(token.get().token() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 1);
}

BOOST_AUTO_TEST_CASE(a_cancel_after_completion_is_harmless_and_does_not_reach_the_next_call) {
  io_thread credential_thread;
  io_thread caller_thread;
  auto clock = std::make_shared<keyless::manual_clock>();
  auto credential = std::make_shared<fake_credential>(credential_thread.io.get_executor(), clock);

  const auto codes = run_on(caller_thread, cancel_after_completion(credential));

  BOOST_REQUIRE_EQUAL(codes.size(), static_cast<std::size_t>(rounds));
  for (const auto& code : codes) BOOST_TEST(!code, code.message());
  BOOST_TEST(credential->calls() == rounds);
}

BOOST_AUTO_TEST_SUITE_END()
