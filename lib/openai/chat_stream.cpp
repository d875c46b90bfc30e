#include "keyless/openai/chat_stream.hpp"

#include <utility>

#include <asio/system_executor.hpp>

#include <fmt/core.h>

#include "keyless/core/error.hpp"
#include "openai/chat_client_impl.hpp"
#include "openai/openai_error.hpp"

namespace keyless::openai {
namespace detail {
namespace {

// Data of an `event: error` that is not the usual {"error": {...}} JSON is
// quoted this far at most.
constexpr std::size_t max_error_event_bytes = 300;

// "3 chunks, 6 bytes of content": how much of the reply a broken stream delivered, so the
// caller can tell an empty failure from a nearly complete one.
std::string received(const chat_stream_state& s) {
  std::size_t bytes = 0;
  for (const auto& choice : s.accumulator.completion().choices) {
    if (choice.message.content) bytes += choice.message.content->size();
    if (choice.message.refusal) bytes += choice.message.refusal->size();
    for (const auto& call : choice.message.tool_calls) bytes += call.function.arguments.size();
  }
  return fmt::format("{} chunk{}, {} byte{} of content", s.chunks, s.chunks == 1 ? "" : "s", bytes,
                     bytes == 1 ? "" : "s");
}

constexpr const char* closed_early_hint =
    "the service or a proxy closed the stream early; the partial reply is in "
    "chat_stream::accumulated()";

error with_stream_context(const keyless::error& e, const chat_stream_state& s) {
  diagnostics d = e.details();
  if (d.request_id.empty()) d.request_id = s.request_id;
  std::string message;
  if (e.code() == make_error_code(errc::http_status)) {
    // The service's own error event: its message already says what happened.
    message = e.message();
  } else {
    message = fmt::format("Azure OpenAI stream from {} broke after {}: {}", s.host, received(s),
                          e.message());
    if (e.code() == make_error_code(errc::timeout) && d.hint.empty()) {
      d.hint = fmt::format(
          "no byte arrived for stream_idle_timeout ({} ms); raise it if the model pauses that "
          "long (reasoning models can)",
          s.idle_timeout.count());
    }
  }
  if (d.hint.empty()) {
    // A connection that dropped mid-chunk is the same event as a body ending before [DONE]
    // (ended_early), so it gets the same hint.
    if (e.code() == make_error_code(errc::connection_failed)) {
      d.hint = closed_early_hint;
    } else if (s.chunks > 0) {
      d.hint = "the partial reply is in chat_stream::accumulated()";
    }
  }
  return error(e.code(), message, std::move(d));
}

error ended_early(const chat_stream_state& s) {
  diagnostics d;
  d.request_id = s.request_id;
  d.hint = closed_early_hint;
  const char* where = s.decoder.has_partial_event() ? " in the middle of an event" : "";
  return error(errc::connection_failed,
               fmt::format("Azure OpenAI stream from {} ended{} without [DONE] after {}: "
                           "the reply is incomplete",
                           s.host, where, received(s)),
               std::move(d));
}

// After [DONE] the body should end at once; reading it to the end lets the
// connection go back to the pool instead of being closed. Bounded by the idle
// timeout; a failure here only costs the connection.
asio::awaitable<void> drain(chat_stream_state* s) {
  try {
    while (co_await s->body.read_some()) {
    }
  } catch (const std::exception&) {
    s->body.close();
  }
}

asio::awaitable<std::optional<chat_chunk>> next_chunk(chat_stream_state* s) {
  if (s == nullptr || s->done) co_return std::nullopt;
  try {
    for (;;) {
      while (s->decoder.next(s->event)) {
        if (is_done_marker(s->event.data)) {
          s->done = true;
          co_await drain(s);
          co_return std::nullopt;
        }
        if (s->event.type == "error") {
          // Usually {"error": {...}}, which parse_chunk turns into the service's
          // error; anything else is quoted.
          try {
            (void)s->parser.parse_chunk(s->event.data);
          } catch (const keyless::error& e) {
            if (e.code() == make_error_code(errc::http_status)) throw;
          }
          throw stream_event_error("", printable_excerpt(s->event.data, max_error_event_bytes));
        }
        // parse_chunk throws the service's error for {"error": {...}}.
        chat_chunk chunk = s->parser.parse_chunk(s->event.data);
        s->accumulator.add(chunk);
        ++s->chunks;
        co_return chunk;
      }
      auto piece = co_await s->body.read_some();
      if (!piece) break;
      s->decoder.feed(*piece);
    }
  } catch (const keyless::error& e) {
    s->done = true;
    s->body.close();
    throw with_stream_context(e, *s);
  } catch (...) {
    s->done = true;
    s->body.close();
    throw;
  }
  // The body ended before [DONE].
  s->done = true;
  throw ended_early(*s);
}

}  // namespace
}  // namespace detail

chat_stream::chat_stream() noexcept = default;
chat_stream::chat_stream(std::unique_ptr<detail::chat_stream_state> state) noexcept
    : state_(std::move(state)) {}
chat_stream::chat_stream(chat_stream&&) noexcept = default;
chat_stream& chat_stream::operator=(chat_stream&&) noexcept = default;
chat_stream::~chat_stream() = default;

asio::awaitable<std::optional<chat_chunk>> chat_stream::next() {
  return detail::next_chunk(state_.get());
}

namespace {
const chat_completion empty_completion{};
const http::fields empty_fields{};
const std::string empty_string{};
}  // namespace

const chat_completion& chat_stream::accumulated() const noexcept {
  return state_ ? state_->accumulator.completion() : empty_completion;
}

chat_completion chat_stream::take_accumulated() {
  return state_ ? state_->accumulator.take() : chat_completion{};
}

std::size_t chat_stream::chunk_count() const noexcept {
  return state_ ? state_->chunks : 0;
}

bool chat_stream::done() const noexcept {
  return !state_ || state_->done;
}

const http::fields& chat_stream::headers() const noexcept {
  return state_ ? state_->body.headers() : empty_fields;
}

const std::string& chat_stream::request_id() const noexcept {
  return state_ ? state_->request_id : empty_string;
}

void chat_stream::close() noexcept {
  if (state_ && !state_->done) {
    state_->done = true;
    state_->body.close();
  }
}

asio::any_io_executor chat_stream::get_executor() const {
  if (state_) return state_->body.get_executor();
  return asio::system_executor();
}

}  // namespace keyless::openai
