#include <boost/test/unit_test.hpp>

#include "chat_test_support.hpp"

namespace keyless::chat_test {
namespace {

using fault = testing::openai_fault;

openai::chat_request usage_request() {
  auto req = hello_request();
  req.include_usage = true;
  return req;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_stream)

BOOST_FIXTURE_TEST_CASE(a_stream_yields_azure_chunks_in_order_and_accumulates_the_reply,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(usage_request()));
  BOOST_TEST(!s.request_id().empty());
  auto chunks = testing::run_sync(io, read_all(s));

  // Azure: the prompt-filter chunk, the role chunk, seven words, the finish chunk, usage.
  BOOST_REQUIRE(chunks.size() == 11u);
  BOOST_TEST(chunks[0].choices.empty());
  BOOST_TEST(chunks[0].id.empty());
  BOOST_TEST(chunks[0].prompt_filter_results.size() == 1u);
  BOOST_TEST(chunks[1].choices.at(0).delta.role.value_or("") == "assistant");
  BOOST_TEST(chunks[2].choices.at(0).delta.content.value_or("") == "Hello!");
  BOOST_TEST(chunks[3].choices.at(0).delta.content.value_or("") == " How");
  BOOST_TEST(chunks[9].choices.at(0).finish_reason == "stop");
  BOOST_TEST(chunks[10].choices.empty());
  BOOST_REQUIRE(chunks[10].usage.has_value());
  BOOST_TEST(chunks[10].usage->completion_tokens == 7);

  BOOST_TEST(s.done());
  BOOST_TEST(s.chunk_count() == 11u);
  const auto& all = s.accumulated();
  BOOST_REQUIRE(all.choices.size() == 1u);
  BOOST_TEST(all.choices[0].message.content.value_or("") == "Hello! How can I help you today?");
  BOOST_TEST(all.choices[0].message.role == "assistant");
  BOOST_TEST(all.choices[0].finish_reason == "stop");
  BOOST_TEST(all.usage.has_value());
  BOOST_TEST(all.id.starts_with("chatcmpl-fake"));

  auto r = fake.last_request();
  BOOST_TEST(r.header("accept") == "text/event-stream");
  BOOST_TEST(r.body == R"({"messages":[{"role":"user","content":"Hello"}],"stream":true,)"
                       R"("stream_options":{"include_usage":true}})");
  BOOST_TEST(fake.streams_served() == 1u);
}

BOOST_FIXTURE_TEST_CASE(next_keeps_returning_nothing_after_the_end, chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  testing::run_sync(io, read_all(s));
  BOOST_TEST(!testing::run_sync(io, s.next()).has_value());
  BOOST_TEST(!testing::run_sync(io, s.next()).has_value());
  // A default-constructed stream is finished, too.
  openai::chat_stream empty;
  BOOST_TEST(empty.done());
  BOOST_TEST(!testing::run_sync(io, empty.next()).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_finished_stream_returns_its_connection_to_the_pool, chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  for (int i = 0; i < 3; ++i) {
    openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
    testing::run_sync(io, read_all(s));
  }
  BOOST_TEST(fake.streams_served() == 3u);
  BOOST_TEST(fake.server().connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_error_event_becomes_a_keyless_error_and_keeps_the_partial_reply,
                        chat_fixture) {
  auto f = fault::of(fault::kind::error_event);
  f.after_events = 4;  // filter chunk, role chunk, "Hello!", " How"
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  std::vector<openai::chat_chunk> before;
  auto e = failure_of(io, read_all(s, &before));
  BOOST_TEST(e.code() == make_error_code(errc::http_status));
  BOOST_TEST(e.details().service_code == "server_error");
  BOOST_TEST(contains(e.what(), "The server had an error while processing your request."),
             e.what());
  BOOST_TEST(before.size() == 4u);
  BOOST_TEST(s.done());
  BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") == "Hello! How");
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_that_ends_without_done_is_an_error_naming_it, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::drop_before_done));
  openai::chat_client chat(io.get_executor(), key_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  std::vector<openai::chat_chunk> before;
  auto e = failure_of(io, read_all(s, &before));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed));
  BOOST_TEST(contains(e.what(), "without [DONE] after 10 chunks, 32 bytes of content"), e.what());
  BOOST_TEST(contains(e.details().hint, "accumulated()"), e.details().hint);
  BOOST_TEST(before.size() == 10u);
  BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_cut_mid_chunk_is_a_failed_connection_keeping_the_partial_reply,
                        chat_fixture) {
  auto f = fault::of(fault::kind::truncated_chunked_body);
  f.after_events = 3;
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  std::vector<openai::chat_chunk> before;
  auto e = failure_of(io, read_all(s, &before));
  // The peer closed the connection inside an HTTP chunk: a failed connection, not bytes
  // that do not parse, and the message says where it was cut.
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "broke after 3 chunks, 6 bytes of content"), e.what());
  BOOST_TEST(contains(e.what(), "connection closed before the end of the chunked body (after "),
             e.what());
  BOOST_TEST(contains(e.what(), "short of the end of a chunk)"), e.what());
  BOOST_TEST(!contains(e.what(), "malformed"), e.what());
  BOOST_TEST(contains(e.details().hint, "closed the stream early"), e.details().hint);
  BOOST_TEST(contains(e.details().hint, "accumulated()"), e.details().hint);
  BOOST_TEST(!e.details().request_id.empty());
  BOOST_TEST(s.done());
  BOOST_TEST(before.size() == 3u);
  BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") == "Hello!");
  BOOST_TEST(fake.requests() == 1u);
  BOOST_TEST(chat.stats().retries == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_connection_reset_mid_stream_is_an_error_and_is_not_retried,
                        chat_fixture) {
  auto f = fault::of(fault::kind::reset_mid_response);
  f.after_events = 5;  // filter chunk, role chunk, "Hello!", " How", " can"
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), token_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  std::vector<openai::chat_chunk> before;
  auto e = failure_of(io, read_all(s, &before));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "broke after 5 chunks, 14 bytes of content"), e.what());
  BOOST_TEST(contains(e.what(), "connection closed before the end of the chunked body (after "),
             e.what());
  BOOST_TEST(contains(e.what(), "at a chunk boundary)"), e.what());
  BOOST_TEST(!e.details().request_id.empty());
  BOOST_TEST(before.size() == 5u);
  BOOST_TEST(s.done());
  BOOST_TEST(!testing::run_sync(io, s.next()).has_value());
  // The partial reply survives the failure, and can be moved out.
  openai::chat_completion partial = s.take_accumulated();
  BOOST_REQUIRE(partial.choices.size() == 1u);
  BOOST_TEST(partial.choices[0].message.role == "assistant");
  BOOST_TEST(partial.choices[0].message.content.value_or("") == "Hello! How can");
  BOOST_TEST(partial.choices[0].finish_reason.empty());
  BOOST_TEST(fake.requests() == 1u);
  BOOST_TEST(chat.stats().retries == 0u);
  BOOST_TEST(chat.stats().auth_retries == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_dropped_before_any_chunk_says_nothing_arrived, chat_fixture) {
  auto f = fault::of(fault::kind::reset_mid_response);
  f.after_events = 0;
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  auto e = failure_of(io, read_all(s));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "after 0 chunks, 0 bytes of content"), e.what());
  BOOST_TEST(s.accumulated().choices.empty());
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stalled_stream_fails_with_the_stream_idle_timeout, chat_fixture) {
  auto f = fault::of(fault::kind::stall_mid_stream);
  f.after_events = 3;
  fake.enqueue(f);
  auto o = key_options();
  o.stream_idle_timeout = 200ms;  // real time: the HTTP layer's idle timer
  openai::chat_client chat(io.get_executor(), std::move(o));
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  std::vector<openai::chat_chunk> before;
  auto e = failure_of(io, read_all(s, &before));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "200 ms"), e.what());
  BOOST_TEST(contains(e.details().hint, "stream_idle_timeout"), e.details().hint);
  BOOST_TEST(before.size() == 3u);
  fake.server().stop();
}

BOOST_FIXTURE_TEST_CASE(a_stream_answered_with_another_content_type_is_a_clear_error,
                        chat_fixture) {
  auto f = fault::of(fault::kind::wrong_content_type);
  f.content_type = "application/json";
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.stream(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::malformed_response));
  BOOST_TEST(contains(e.what(), "Content-Type 'application/json' instead of text/event-stream"),
             e.what());
  BOOST_TEST(e.details().http_status.value_or(0) == 200);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_is_retried_while_the_service_refuses_it_before_the_body,
                        chat_fixture) {
  fake.enqueue(fault::rate_limited_ms("250"));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.stream(hello_request()));
  run_until(io, [&] { return clock->sleepers() == 1; });
  BOOST_TEST(fake.requests() == 1u);
  clock->advance(250ms);
  run_until(io, [&] { return call->done; });
  BOOST_REQUIRE(!call->failure);
  auto chunks = testing::run_sync(io, read_all(*call->value));
  BOOST_TEST(chunks.size() == 10u);
  BOOST_TEST(fake.requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_gets_a_token_that_outlives_the_expected_stream_duration,
                        chat_fixture) {
  // Tokens live 10 minutes; the cache refreshes only in the last minute.
  credential = std::make_shared<jwt_credential>(io.get_executor(), clock, 10min);
  identity::token_cache_options cache;
  cache.refresh_before_expiry = 1min;
  auto o = options();
  o.auth = provider(std::string(cognitive_scope), cache);
  o.expected_stream_duration = 5min;
  openai::chat_client chat(io.get_executor(), std::move(o));

  testing::run_sync(io, chat.complete(hello_request()));
  clock->advance(6min);  // token 1 has 4 minutes left: fine for a completion...
  testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(credential->calls() == 1);

  // ...but not for a stream expected to take 5 minutes.
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  testing::run_sync(io, read_all(s));
  BOOST_TEST(credential->calls() == 2);
  auto seen = fake.authorization_headers();
  auto issued = credential->issued();
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_REQUIRE(issued.size() == 2u);
  const bool completions_used_token_1 =
      seen[0] == "Bearer " + issued[0] && seen[1] == "Bearer " + issued[0];
  const bool stream_used_token_2 = seen[2] == "Bearer " + issued[1];
  BOOST_TEST(completions_used_token_1);
  BOOST_TEST(stream_used_token_2);
}

BOOST_FIXTURE_TEST_CASE(async_next_delivers_chunks_to_a_callback, chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  std::optional<openai::chat_stream> stream;
  chat.stream(hello_request(), [&](std::exception_ptr e, openai::chat_stream s) {
    BOOST_TEST(!e);
    stream.emplace(std::move(s));
  });
  run_until(io, [&] { return stream.has_value(); });

  std::string text;
  bool ended = false;
  std::function<void(std::exception_ptr, std::optional<openai::chat_chunk>)> on_chunk;
  on_chunk = [&](std::exception_ptr e, std::optional<openai::chat_chunk> c) {
    BOOST_REQUIRE(!e);
    if (!c) {
      ended = true;
      return;
    }
    for (const auto& choice : c->choices) text += choice.delta.content.value_or("");
    stream->async_next(on_chunk);
  };
  stream->async_next(on_chunk);
  run_until(io, [&] { return ended; });
  BOOST_TEST(text == "Hello! How can I help you today?");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
