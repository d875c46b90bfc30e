#include "fake_openai.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/core.h>
#include <simdjson.h>

#include "core/base64.hpp"
#include "epoch_seconds.hpp"
#include "identity/client_assertion.hpp"
#include "keyless/identity/token_claims.hpp"
#include "keyless/json/writer.hpp"

namespace keyless::testing {
namespace {

// Azure's verdicts, as constant JSON fragments (building them per chunk would make the fake,
// not the client, the bottleneck of the throughput benchmarks).
constexpr std::string_view prompt_filters =
    R"([{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},)"
    R"("jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},)"
    R"("sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}])";
constexpr std::string_view choice_filters =
    R"({"hate":{"filtered":false,"severity":"safe"},"protected_material_code":{"filtered":false,"detected":false},)"
    R"("protected_material_text":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},)"
    R"("sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}})";
constexpr std::string_view fingerprint = "fp_fake0001";

constexpr std::string_view audience_body =
    R"({"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."})";
constexpr std::string_view api_key_body =
    R"({"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}})";
constexpr std::string_view not_found_body =
    R"({"error":{"code":"404","message":"Resource not found"}})";
constexpr std::string_view deployment_body =
    R"({"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}})";
constexpr std::string_view rate_limit_body =
    R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}})";
constexpr std::string_view server_error_body =
    R"({"error":{"code":"InternalServerError","message":"The server had an error while processing your request. Sorry about that!"}})";

std::string json_string(std::string_view text) {
  keyless::json::writer w;
  w.value(text);
  return w.release();
}

std::string permission_body(std::string_view object_id, std::string_view path) {
  return fmt::format(
      R"({{"error":{{"code":"PermissionDenied","message":"The principal `{}` lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST {}` operation."}}}})",
      object_id, path);
}

bool is_dated_version(std::string_view v) {
  // YYYY-MM-DD, optionally followed by "-preview".
  if (v.ends_with("-preview")) v.remove_suffix(8);
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i == 4 || i == 7) continue;
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

// Word-sized pieces of `reply`, each keeping its leading space, as the service streams them.
std::vector<std::string> pieces_of(std::string_view reply) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 1; i <= reply.size(); ++i) {
    if (i == reply.size() || reply[i] == ' ') {
      out.emplace_back(reply.substr(start, i - start));
      start = i;
    }
  }
  if (out.empty()) out.emplace_back();
  return out;
}

std::string event(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

struct parsed_body {
  bool valid = false;
  bool stream = false;
  bool include_usage = false;
  std::string model;
  std::size_t prompt_words = 0;
};

parsed_body parse_body(const std::string& body) {
  parsed_body out;
  // One parser per thread: it keeps its buffers between requests.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root)) return out;
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return out;
  simdjson::dom::array messages;
  if (obj["messages"].get_array().get(messages) || messages.size() == 0) return out;
  for (auto m : messages) {
    std::string_view content;
    if (!m["content"].get_string().get(content)) out.prompt_words += pieces_of(content).size();
  }
  bool b = false;
  if (!obj["stream"].get_bool().get(b)) out.stream = b;
  if (!obj["stream_options"]["include_usage"].get_bool().get(b)) out.include_usage = b;
  std::string_view model;
  if (!obj["model"].get_string().get(model)) out.model = std::string(model);
  out.valid = true;
  return out;
}

}  // namespace

openai_fault openai_fault::rate_limited_ms(std::string ms) {
  openai_fault f = of(kind::rate_limited);
  f.headers.add("retry-after-ms", std::move(ms));
  return f;
}

openai_fault openai_fault::rate_limited_after(std::string seconds) {
  openai_fault f = of(kind::rate_limited);
  f.headers.add("retry-after", std::move(seconds));
  return f;
}

struct fake_openai::state {
  mutable std::mutex mutex;
  fake_openai_options options;
  std::shared_ptr<const keyless::clock> clock;
  std::deque<openai_fault> faults;
  std::vector<std::string> revoked;
  std::size_t requests = 0;
  std::size_t completions = 0;
  std::size_t streams = 0;
  std::size_t refusals = 0;
  std::uint64_t sequence = 0;
  std::vector<std::string> authorizations;
  std::vector<std::string> keys;
  // The last bearer token whose claims were read: Azure validates a token once and caches
  // the result, and so does the fake, so that a benchmark's keyless requests cost the server
  // about what api-key requests do (a string compare) and measure the client, not JWT decoding.
  std::string checked_token;
  std::optional<keyless::identity::token_claims> checked_claims;

  // What to do with one request, decided under the lock; the I/O happens outside it.
  struct plan {
    int status = 200;  // != 200: answer `body` as JSON with `headers`
    std::string body;
    header_map headers;
    std::optional<openai_fault> fault;
    bool stream = false;
    bool http2 = false;  // the request came over HTTP/2: faults are framed for it
    bool include_usage = false;
    std::size_t prompt_words = 0;
    std::string id;
    std::int64_t created = 0;
    std::string reply;
    std::string model;
  };
  plan decide(const recorded_request& request);
  plan refuse(int status, std::string_view body) {
    plan p;
    p.status = status;
    p.body = std::string(body);
    p.headers.add("apim-request-id", keyless::identity::detail::random_uuid());
    ++refusals;
    return p;
  }
};

fake_openai::state::plan fake_openai::state::decide(const recorded_request& request) {
  ++requests;
  const std::string_view path = request.path();
  constexpr std::string_view dated_prefix = "/openai/deployments/";
  constexpr std::string_view dated_suffix = "/chat/completions";
  std::string deployment;
  bool v1 = false;
  if (path == "/openai/v1/chat/completions") {
    v1 = true;
  } else if (path.starts_with(dated_prefix) && path.ends_with(dated_suffix) &&
             path.size() > dated_prefix.size() + dated_suffix.size()) {
    deployment = keyless::testing::percent_decode(
        path.substr(dated_prefix.size(), path.size() - dated_prefix.size() - dated_suffix.size()));
  } else {
    return refuse(404, not_found_body);
  }
  if (request.method != "POST") return refuse(405, not_found_body);
  if (!v1) {
    auto version = request.query_param("api-version");
    if (!version || version->empty()) return refuse(404, not_found_body);
    const bool known = options.api_versions.empty()
                           ? is_dated_version(*version)
                           : std::find(options.api_versions.begin(), options.api_versions.end(),
                                       *version) != options.api_versions.end();
    if (!known) {
      return refuse(400,
                    R"({"error":{"code":"BadRequest","message":"API version not supported"}})");
    }
  }

  // Credentials: an api-key wins over a bearer token, as on Azure.
  const auto key = request.headers.find("api-key");
  const auto authorization = request.headers.find("authorization");
  if (options.record_credentials) {
    if (key) keys.emplace_back(*key);
    if (authorization) authorizations.emplace_back(*authorization);
  }
  if (key) {
    if (!options.api_key || *key != *options.api_key) return refuse(401, api_key_body);
  } else if (authorization) {
    std::string_view value = *authorization;
    if (!options.accept_bearer || value.size() <= 7 ||
        !keyless::testing::iequals(value.substr(0, 7), "Bearer ")) {
      return refuse(401, audience_body);
    }
    const std::string_view token = value.substr(7);
    if (std::find(revoked.begin(), revoked.end(), token) != revoked.end()) {
      return refuse(401, audience_body);
    }
    if (!checked_claims || token != checked_token) {
      checked_claims = keyless::identity::read_token_claims(token);
      checked_token.assign(token);
    }
    const auto& claims = checked_claims;
    if (!claims) return refuse(401, audience_body);
    if (!options.audiences.empty() && std::find(options.audiences.begin(), options.audiences.end(),
                                                claims->audience) == options.audiences.end()) {
      return refuse(401, audience_body);
    }
    if (claims->expires_on && *claims->expires_on <= clock->now()) {
      return refuse(401, audience_body);
    }
    if (options.authorized_object_ids &&
        std::find(options.authorized_object_ids->begin(), options.authorized_object_ids->end(),
                  claims->object_id) == options.authorized_object_ids->end()) {
      return refuse(403, permission_body(claims->object_id, path));
    }
  } else {
    return refuse(401, api_key_body);
  }

  auto body = parse_body(request.body);
  if (v1) deployment = body.model;
  if (std::find(options.deployments.begin(), options.deployments.end(), deployment) ==
      options.deployments.end()) {
    return refuse(404, deployment_body);
  }
  if (!body.valid) {
    return refuse(
        400,
        R"({"error":{"code":"BadRequest","message":"'messages' is a required property","param":"messages","type":"invalid_request_error"}})");
  }

  plan p;
  p.stream = body.stream;
  p.http2 = request.version == "HTTP/2";
  p.include_usage = body.include_usage;
  p.prompt_words = body.prompt_words;
  p.id = fmt::format("chatcmpl-fake{:06}", ++sequence);
  p.created = epoch_seconds(clock->now());
  p.reply = options.reply;
  p.model = options.model;
  p.headers.add("apim-request-id", keyless::identity::detail::random_uuid());
  p.headers.add("x-request-id", keyless::identity::detail::random_uuid());
  if (auto id = request.headers.find("x-ms-client-request-id")) {
    p.headers.add("x-ms-client-request-id", std::string(*id));
  }
  if (!faults.empty()) {
    p.fault = std::move(faults.front());
    faults.pop_front();
    const auto k = p.fault->what;
    using kind = openai_fault::kind;
    if (k == kind::wrong_audience || k == kind::permission_denied || k == kind::rate_limited ||
        k == kind::server_error || k == kind::cae_challenge ||
        (k == kind::scripted && p.fault->response.status >= 400)) {
      ++refusals;
    }
    return p;
  }
  if (p.stream) {
    ++streams;
  } else {
    ++completions;
  }
  return p;
}

namespace {

using plan = fake_openai::state::plan;

std::string usage_json(const plan& p, std::size_t completion_tokens) {
  return fmt::format(
      R"({{"completion_tokens":{},"completion_tokens_details":{{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0}},"prompt_tokens":{},"prompt_tokens_details":{{"audio_tokens":0,"cached_tokens":0}},"total_tokens":{}}})",
      completion_tokens, p.prompt_words, p.prompt_words + completion_tokens);
}

std::string completion_json(const plan& p) {
  const auto pieces = pieces_of(p.reply);
  return fmt::format(
      R"({{"choices":[{{"content_filter_results":{},"finish_reason":"stop","index":0,"logprobs":null,"message":{{"annotations":[],"content":{},"refusal":null,"role":"assistant"}}}}],"created":{},"id":"{}","model":"{}","object":"chat.completion","prompt_filter_results":{},"system_fingerprint":"{}","usage":{}}})",
      choice_filters, json_string(p.reply), p.created, p.id, p.model, prompt_filters, fingerprint,
      usage_json(p, pieces.size()));
}

// The events of a streamed answer, [DONE] last.
std::vector<std::string> stream_events(const plan& p) {
  std::vector<std::string> out;
  const auto pieces = pieces_of(p.reply);
  out.reserve(pieces.size() + 5);
  out.push_back(event(fmt::format(
      R"({{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":{}}})",
      prompt_filters)));
  const auto envelope = fmt::format(
      R"("created":{},"id":"{}","model":"{}","object":"chat.completion.chunk","system_fingerprint":"{}")",
      p.created, p.id, p.model, fingerprint);
  out.push_back(event(fmt::format(
      R"({{"choices":[{{"content_filter_results":{{}},"delta":{{"content":"","refusal":null,"role":"assistant"}},"finish_reason":null,"index":0,"logprobs":null}}],{},"usage":null}})",
      envelope)));
  for (const auto& piece : pieces) {
    out.push_back(event(fmt::format(
        R"({{"choices":[{{"content_filter_results":{},"delta":{{"content":{}}},"finish_reason":null,"index":0,"logprobs":null}}],{},"usage":null}})",
        choice_filters, json_string(piece), envelope)));
  }
  out.push_back(event(fmt::format(
      R"({{"choices":[{{"content_filter_results":{{}},"delta":{{}},"finish_reason":"stop","index":0,"logprobs":null}}],{},"usage":null}})",
      envelope)));
  if (p.include_usage) {
    out.push_back(event(
        fmt::format(R"({{"choices":[],{},"usage":{}}})", envelope, usage_json(p, pieces.size()))));
  }
  out.push_back("data: [DONE]\n\n");
  return out;
}

header_map merged(header_map base, const header_map& extra) {
  for (const auto& [name, value] : extra) base.set(name, value);
  return base;
}

asio::awaitable<void> send_events(responder& out, const std::vector<std::string>& events,
                                  std::size_t count, std::chrono::milliseconds interval) {
  for (std::size_t i = 0; i < count && i < events.size(); ++i) {
    if (interval.count() > 0 && i > 0) co_await out.delay(interval);
    co_await out.write_chunk(events[i]);
  }
}

asio::awaitable<void> answer_fault(const plan& p, responder& out, std::chrono::milliseconds gap) {
  using kind = openai_fault::kind;
  const openai_fault& f = *p.fault;
  switch (f.what) {
    case kind::wrong_audience:
      co_await out.respond_json(f.status ? f.status : 401, std::string(audience_body),
                                merged(p.headers, f.headers));
      co_return;
    case kind::permission_denied:
      co_await out.respond_json(
          f.status ? f.status : 403,
          permission_body(f.object_id, "/openai/deployments/{deployment-id}/chat/completions"),
          merged(p.headers, f.headers));
      co_return;
    case kind::rate_limited:
      co_await out.respond_json(f.status ? f.status : 429, std::string(rate_limit_body),
                                merged(p.headers, f.headers));
      co_return;
    case kind::server_error:
      co_await out.respond_json(f.status ? f.status : 500, std::string(server_error_body),
                                merged(p.headers, f.headers));
      co_return;
    case kind::cae_challenge: {
      header_map h = merged(p.headers, f.headers);
      h.set(
          "WWW-Authenticate",
          fmt::format(
              R"(Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{}")",
              keyless::detail::base64_encode(f.claims)));
      co_await out.respond_json(f.status ? f.status : 401, std::string(audience_body),
                                std::move(h));
      co_return;
    }
    case kind::wrong_content_type:
      co_await out.respond(f.status ? f.status : 200,
                           "<html><body><h1>Welcome to the gateway</h1></body></html>",
                           merged(p.headers, f.headers), f.content_type);
      co_return;
    case kind::scripted:
      co_await perform(f.response, out);
      co_return;
    default:
      break;
  }

  if (!p.stream) {
    // Only reset_mid_response applies to a JSON answer: half of it, then a drop.
    const std::string body = completion_json(p);
    const std::string_view half = std::string_view(body).substr(0, body.size() / 2);
    if (p.http2) {
      header_map headers;
      headers.set("content-length", std::to_string(body.size()));
      co_await out.start_chunked(200, std::move(headers), "application/json");
      co_await out.write_chunk(std::string(half));
    } else {
      co_await out.write_raw(fmt::format(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
          body.size(), half));
    }
    out.close();
    co_return;
  }

  const auto events = stream_events(p);
  header_map headers = merged(p.headers, f.headers);
  headers.set("Cache-Control", "no-cache");
  co_await out.start_chunked(200, std::move(headers), "text/event-stream; charset=utf-8");
  switch (f.what) {
    case kind::reset_mid_response:
      co_await send_events(out, events, f.after_events, gap);
      out.close();
      break;
    case kind::truncated_chunked_body: {
      co_await send_events(out, events, f.after_events, gap);
      const std::string& next = events[std::min(f.after_events, events.size() - 1)];
      const std::string_view half = std::string_view(next).substr(0, next.size() / 2);
      if (p.http2) {
        co_await out.write_chunk(std::string(half));  // HTTP/2 has no chunks: half an event
      } else {
        co_await out.write_raw(fmt::format("{:x}\r\n{}", next.size(), half));
      }
      out.close();
      break;
    }
    case kind::stall_mid_stream:
      co_await send_events(out, events, f.after_events, gap);
      co_await out.stall();
      break;
    case kind::drop_before_done:
      co_await send_events(out, events, events.size() - 1, gap);
      co_await out.finish_chunked();
      break;
    case kind::error_event: {
      co_await send_events(out, events, f.after_events, gap);
      keyless::json::writer w;
      w.begin_object()
          .key("error")
          .begin_object()
          .member("message", f.message)
          .member("type", "server_error")
          .key("param")
          .value(nullptr)
          .member("code", f.code)
          .end_object()
          .end_object();
      co_await out.write_chunk(event(w.release()));
      co_await out.finish_chunked();
      break;
    }
    default:
      co_await out.finish_chunked();
      break;
  }
}

}  // namespace

fake_openai::fake_openai(asio::any_io_executor executor, fake_openai_options options)
    : state_(std::make_shared<state>()), server_(executor, [&] {
        server_options o;
        o.tls = true;
        o.http2 = true;  // as Azure: ALPN picks h2 for a client offering it, else HTTP/1.1
        o.pki = options.pki;
        o.record_requests = options.record_credentials;
        return o;
      }()) {
  state_->clock = options.clock ? options.clock : keyless::clock::system();
  state_->options = std::move(options);
  auto s = state_;
  server_.set_handler([s](recorded_request request, responder& out) -> asio::awaitable<void> {
    state::plan p;
    std::chrono::milliseconds latency{0};
    std::chrono::milliseconds gap{0};
    {
      std::lock_guard lock(s->mutex);
      p = s->decide(request);
      latency = s->options.latency;
      gap = s->options.event_interval;
    }
    if (latency.count() > 0) co_await out.delay(latency);
    if (p.status != 200) {
      co_await out.respond_json(p.status, std::move(p.body), std::move(p.headers));
      co_return;
    }
    if (p.fault) {
      co_await answer_fault(p, out, gap);
      co_return;
    }
    if (!p.stream) {
      co_await out.respond_json(200, completion_json(p), std::move(p.headers));
      co_return;
    }
    const auto events = stream_events(p);
    header_map headers = std::move(p.headers);
    headers.set("Cache-Control", "no-cache");
    co_await out.start_chunked(200, std::move(headers), "text/event-stream; charset=utf-8");
    co_await send_events(out, events, events.size(), gap);
    co_await out.finish_chunked();
  });
}

fake_openai::~fake_openai() = default;

std::string fake_openai::endpoint() const {
  auto url = server_.url("/");
  url.pop_back();
  return url;
}

const std::string& fake_openai::ca_certificate_pem() const {
  const test_pki* pki = state_->options.pki;
  return (pki ? *pki : test_pki::shared()).ca_certificate_pem();
}

void fake_openai::enqueue(openai_fault fault, std::size_t times) {
  std::lock_guard lock(state_->mutex);
  for (std::size_t i = 0; i < times; ++i) state_->faults.push_back(fault);
}

std::size_t fake_openai::pending_faults() const {
  std::lock_guard lock(state_->mutex);
  return state_->faults.size();
}

void fake_openai::revoke_token(std::string token) {
  std::lock_guard lock(state_->mutex);
  state_->revoked.push_back(std::move(token));
}

void fake_openai::set_reply(std::string reply) {
  std::lock_guard lock(state_->mutex);
  state_->options.reply = std::move(reply);
}

void fake_openai::set_api_key(std::optional<std::string> key) {
  std::lock_guard lock(state_->mutex);
  state_->options.api_key = std::move(key);
}

void fake_openai::set_authorized_object_ids(std::optional<std::vector<std::string>> ids) {
  std::lock_guard lock(state_->mutex);
  state_->options.authorized_object_ids = std::move(ids);
}

std::size_t fake_openai::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::size_t fake_openai::completions_served() const {
  std::lock_guard lock(state_->mutex);
  return state_->completions;
}

std::size_t fake_openai::streams_served() const {
  std::lock_guard lock(state_->mutex);
  return state_->streams;
}

std::size_t fake_openai::refusals() const {
  std::lock_guard lock(state_->mutex);
  return state_->refusals;
}

std::vector<std::string> fake_openai::authorization_headers() const {
  std::lock_guard lock(state_->mutex);
  return state_->authorizations;
}

std::vector<std::string> fake_openai::api_keys() const {
  std::lock_guard lock(state_->mutex);
  return state_->keys;
}

}  // namespace keyless::testing
