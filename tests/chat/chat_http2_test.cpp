// The chat client over HTTP/2 (http.version = http2) against the fake Azure OpenAI, which,
// like Azure, agrees on h2 through ALPN: completions and streams with an API key and with a
// token, many at once on one connection, and the token sent whole only once per connection.

#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <boost/test/unit_test.hpp>

#include "chat_test_support.hpp"

namespace keyless::chat_test {
namespace chat_http2 {

openai::chat_client_options over_h2(openai::chat_client_options o) {
  o.http.version = http::http_version::http2;
  return o;
}

}  // namespace chat_http2

BOOST_AUTO_TEST_SUITE(chat_http2)

BOOST_FIXTURE_TEST_CASE(a_completion_with_an_api_key_goes_over_h2, chat_fixture) {
  openai::chat_client chat(io.get_executor(), chat_http2::over_h2(key_options()));
  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices[0].message.content.value_or("") == "Hello! How can I help you today?");
  auto r = fake.last_request();
  BOOST_TEST(r.version == "HTTP/2");
  BOOST_TEST(r.header("api-key") == "test-resource-key-0123456789");
}

BOOST_FIXTURE_TEST_CASE(many_keyless_completions_share_one_connection_and_one_token, chat_fixture) {
  openai::chat_client chat(io.get_executor(), chat_http2::over_h2(token_options()));
  const int calls = 200;
  int ok = 0;
  int failed = 0;
  for (int i = 0; i < calls; ++i) {
    asio::co_spawn(io, chat.complete(hello_request()),
                   [&](std::exception_ptr e, openai::chat_completion reply) {
                     if (!e && reply.choices.size() == 1u) {
                       ++ok;
                     } else {
                       ++failed;
                     }
                   });
  }
  testing::run_until_idle(io);
  BOOST_TEST(ok == calls);
  BOOST_TEST(failed == 0);
  BOOST_TEST(fake.server().connections_accepted() == 1u);
  BOOST_TEST(credential->calls() == 1);
  const auto seen = fake.server().requests();
  BOOST_REQUIRE(seen.size() == static_cast<std::size_t>(calls));
  for (const auto& r : seen) {
    BOOST_TEST(r.version == "HTTP/2");
    BOOST_TEST(r.header("authorization") == "Bearer " + credential->issued()[0]);
  }
}

BOOST_FIXTURE_TEST_CASE(a_stream_over_h2_yields_every_chunk, chat_fixture) {
  openai::chat_client chat(io.get_executor(), chat_http2::over_h2(token_options()));
  std::string text = testing::run_sync(io, [&]() -> asio::awaitable<std::string> {
    auto stream = co_await chat.stream(hello_request());
    std::string out;
    while (auto chunk = co_await stream.next()) {
      for (const auto& choice : chunk->choices) out += choice.delta.content.value_or("");
    }
    co_return out;
  });
  BOOST_TEST(text == "Hello! How can I help you today?");
  BOOST_TEST(fake.last_request().version == "HTTP/2");
}

// Faults framed for HTTP/2 by the fake: the DATA before a drop still arrives, and a drop is a
// failed connection the chat client treats as over HTTP/1.1.

BOOST_FIXTURE_TEST_CASE(a_completion_cut_short_over_h2_is_retried_and_recovers, chat_fixture) {
  fake.enqueue(testing::openai_fault::of(testing::openai_fault::kind::reset_mid_response));
  openai::chat_client chat(io.get_executor(), chat_http2::over_h2(key_options()));
  auto call = spawn_call(io, chat.complete(hello_request()));
  run_until(io, [&] { return clock->sleepers() == 1; });  // the backoff before the retry
  clock->advance(std::chrono::milliseconds(500));
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(call->value->choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(chat.stats().retries == 1u);
  BOOST_TEST(fake.server().connections_accepted() == 2u);  // the first one was dropped
}

BOOST_FIXTURE_TEST_CASE(a_stream_dropped_over_h2_keeps_what_arrived, chat_fixture) {
  for (auto what : {testing::openai_fault::kind::reset_mid_response,
                    testing::openai_fault::kind::truncated_chunked_body}) {
    auto f = testing::openai_fault::of(what);
    f.after_events = 5;  // filter chunk, role chunk, "Hello!", " How", " can"
    fake.enqueue(f);
    openai::chat_client chat(io.get_executor(), chat_http2::over_h2(token_options()));
    openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
    std::vector<openai::chat_chunk> before;
    auto e = failure_of(io, read_all(s, &before));
    BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
    BOOST_TEST(contains(e.what(), "broke after 5 chunks, 14 bytes of content"), e.what());
    BOOST_TEST(contains(e.what(), "HTTP/2: the connection was lost"), e.what());
    BOOST_TEST(before.size() == 5u);
    BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") == "Hello! How can");
    BOOST_TEST(chat.stats().retries == 0u);
  }
  BOOST_TEST(fake.requests() == 2u);
}

BOOST_AUTO_TEST_CASE(a_server_on_another_thread_answers_sequential_requests) {
  // The benchmarks' shape: the fake on its own thread and io_context, the client alone on
  // this one, one request at a time (each ends with no stream open on the connection).
  asio::io_context server_io;
  auto work = asio::make_work_guard(server_io);
  testing::fake_openai fake(server_io.get_executor());
  std::thread server([&] { server_io.run(); });
  asio::io_context io;
  openai::chat_client_options o;
  o.endpoint = fake.endpoint();
  o.deployment = "gpt-4o-mini";
  o.auth = openai::api_key{"k"};
  o.http.tls.use_system_trust_store = false;
  o.http.tls.ca_pem = fake.ca_certificate_pem();
  o.http.proxy = http::proxy_settings{};
  o.environment = identity::environment_map{};
  fake.set_api_key("k");
  openai::chat_client chat(io.get_executor(), chat_http2::over_h2(o));
  // io.run() returns only once nothing is pending: a request in flight must always be.
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(io, chat.complete(hello_request()),
                   [&](std::exception_ptr e, openai::chat_completion reply) {
                     if (!e && reply.choices.size() == 1u) ++answered;
                   });
    io.restart();
    io.run();
    BOOST_REQUIRE_MESSAGE(answered == i + 1,
                          "io.run() returned before request " << i << " was answered");
  }
  BOOST_TEST(fake.server().connections_accepted() == 1u);
  work.reset();
  fake.server().stop();
  server_io.stop();
  server.join();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
