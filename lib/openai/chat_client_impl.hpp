#pragma once
// Private state of chat_client and chat_stream, shared by chat_client.cpp and
// chat_stream.cpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/http/client.hpp"
#include "keyless/http/request.hpp"
#include "keyless/http/response_stream.hpp"
#include "keyless/http/url.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/openai/chat_client.hpp"
#include "keyless/openai/chat_stream.hpp"
#include "keyless/openai/chat_stream_accumulator.hpp"
#include "openai/chat_json.hpp"
#include "openai/retry_policy.hpp"
#include "openai/sse_decoder.hpp"

namespace keyless::openai {

/// Everything a call needs, fixed at construction; only the counters change.
struct chat_client::impl {
  asio::any_io_executor executor;
  std::shared_ptr<http::client> http;
  std::shared_ptr<const keyless::clock> clock;
  std::function<double()> random;
  retry_options retry;
  std::chrono::milliseconds permission_grace{0};
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds stream_idle_timeout{0};
  std::chrono::milliseconds expected_stream_duration{0};

  api_surface surface = api_surface::deployments;
  std::string endpoint;  // normalised: no trailing '/'
  std::string host;      // for messages
  std::string deployment;
  std::string api_version;  // empty on v1
  std::string model;        // v1: the deployment, written into the body
  std::string url_text;
  http::url target;

  std::optional<std::string> key;  // api-key header value
  http::shared_field key_field;    // the api-key header every request shares
  std::optional<identity::bearer_token_provider> tokens;
  std::string scope;  // scopes of `tokens`, space-separated

  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> attempts{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> auth_retries{0};
  std::atomic<std::uint64_t> token_waits{0};
};

namespace detail {

/// The reading side of a chat_stream.
struct chat_stream_state {
  http::response_stream body;
  sse_decoder decoder;
  chat_parser parser;
  chat_stream_accumulator accumulator;
  sse_event event;
  std::string request_id;
  std::string host;  // for messages
  std::chrono::milliseconds idle_timeout{0};
  std::size_t chunks = 0;
  bool done = false;

  static chat_stream make(std::unique_ptr<chat_stream_state> state) {
    return chat_stream(std::move(state));
  }
};

}  // namespace detail
}  // namespace keyless::openai
