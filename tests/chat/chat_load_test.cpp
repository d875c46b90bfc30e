#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "chat_test_support.hpp"
#include "fake_managed_identity.hpp"
#include "keyless/identity/managed_identity_credential.hpp"

namespace keyless::chat_test {

BOOST_AUTO_TEST_SUITE(chat_load)

// The normal case the library is built for: many calls in flight on one client and one
// provider, starting cold. Every call misses the empty cache at once; they must share one
// fetch from the managed identity endpoint, and all of them must succeed.
BOOST_AUTO_TEST_CASE(a_thousand_concurrent_calls_with_one_provider_fetch_one_token) {
  asio::io_context io;
  auto clock = std::make_shared<manual_clock>();

  testing::fake_managed_identity_options mo;
  mo.clock = clock;
  // Real latency keeps the fetch in flight while the other 999 calls arrive.
  mo.latency = std::chrono::milliseconds(20);
  testing::fake_managed_identity imds(io.get_executor(), mo);

  testing::fake_openai_options fo;
  fo.clock = clock;
  fo.record_credentials = false;
  fo.authorized_object_ids = std::vector<std::string>{mo.system_identity.object_id};
  testing::fake_openai fake(io.get_executor(), fo);

  identity::managed_identity_options mi;
  mi.source = identity::managed_identity_source::imds;
  mi.imds_endpoint = imds.host();
  mi.environment = identity::environment_map{};
  mi.http.proxy = http::proxy_settings{};
  mi.clock = clock;
  auto credential = std::make_shared<identity::managed_identity_credential>(io.get_executor(), mi);
  identity::token_cache_options cache;
  cache.clock = clock;
  identity::bearer_token_provider tokens(std::make_shared<identity::token_cache>(credential, cache),
                                         std::string(cognitive_scope));

  openai::chat_client_options o = client_options(fake, clock);
  o.auth = tokens;
  openai::chat_client chat(io.get_executor(), std::move(o));

  constexpr std::size_t calls = 1000;
  std::size_t finished = 0;
  std::size_t succeeded = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < calls; ++i) {
    chat.async_complete(hello_request(), [&](std::exception_ptr e, openai::chat_completion c) {
      ++finished;
      if (!e && c.choices.size() == 1 &&
          c.choices[0].message.content.value_or("") == "Hello! How can I help you today?") {
        ++succeeded;
      } else if (e && first_failure.empty()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          first_failure = x.what();
        }
      }
    });
  }
  run_until(
      io, [&] { return finished == calls; }, std::chrono::seconds(120));

  BOOST_TEST(succeeded == calls, first_failure);
  BOOST_TEST(imds.token_requests() == 1u);
  BOOST_TEST(imds.tokens_issued() == 1u);
  BOOST_TEST(fake.completions_served() == calls);
  BOOST_TEST(fake.requests() == calls);
  const auto stats = chat.stats();
  BOOST_TEST(stats.calls == calls);
  BOOST_TEST(stats.attempts == calls);
  BOOST_TEST(stats.retries == 0u);
  BOOST_TEST(stats.auth_retries == 0u);
  // Every call found the cache empty and waited on the one shared fetch.
  BOOST_TEST(stats.token_waits == calls);

  // Warm: another thousand take the cached token without waiting.
  finished = 0;
  succeeded = 0;
  for (std::size_t i = 0; i < calls; ++i) {
    chat.async_complete(hello_request(), [&](std::exception_ptr e, openai::chat_completion) {
      ++finished;
      if (!e) ++succeeded;
    });
  }
  run_until(
      io, [&] { return finished == calls; }, std::chrono::seconds(120));
  BOOST_TEST(succeeded == calls);
  BOOST_TEST(imds.token_requests() == 1u);
  BOOST_TEST(chat.stats().token_waits == calls);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
