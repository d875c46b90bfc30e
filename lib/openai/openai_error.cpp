#include "openai/openai_error.hpp"

#include <chrono>

#include <fmt/core.h>
#include <simdjson.h>

#include "openai/retry_policy.hpp"
#include "openai/scope_for_endpoint.hpp"

namespace keyless::openai {
namespace {

namespace dom = simdjson::dom;

// Long enough for every Azure message seen in practice (the PermissionDenied
// one with a principal id and data action is about 300 bytes), short enough
// that a proxy's HTML error page cannot flood a log line.
constexpr std::size_t max_message_bytes = 1000;
constexpr std::size_t max_raw_body_bytes = 200;

constexpr std::string_view openai_user_role = "Cognitive Services OpenAI User";

struct error_body {
  bool json = false;
  bool wrapped = false;  // {"error": {...}} as opposed to {"statusCode":..,"message":..}
  std::string code;
  std::string message;
  std::string inner_code;
};

std::string as_text(dom::element e) {
  std::string_view s;
  if (!e.get_string().get(s)) return std::string(s);
  std::int64_t i = 0;
  if (!e.get_int64().get(i)) return fmt::format("{}", i);
  return {};
}

error_body read_body(std::string_view body) {
  error_body out;
  dom::parser parser;
  simdjson::padded_string padded(body);
  dom::element root;
  if (parser.parse(padded).get(root)) return out;
  dom::object obj;
  if (root.get_object().get(obj)) return out;
  out.json = true;
  dom::element err;
  if (!obj["error"].get(err)) {
    dom::object e;
    if (!err.get_object().get(e)) {
      out.wrapped = true;
      dom::element v;
      if (!e["code"].get(v)) out.code = as_text(v);
      if (!e["message"].get(v)) out.message = as_text(v);
      dom::object inner;
      if (!e["innererror"].get_object().get(inner) && !inner["code"].get(v))
        out.inner_code = as_text(v);
      return out;
    }
    out.message = as_text(err);
  }
  // Unwrapped shapes: the gateway's {"statusCode":401,"message":...} and
  // APIM-style {"code":...,"message":...}.
  dom::element v;
  if (out.message.empty() && !obj["message"].get(v)) out.message = as_text(v);
  if (!obj["code"].get(v)) out.code = as_text(v);
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// "The principal `0000-...` lacks the required data action ..." → the id.
std::string principal_of(std::string_view message) {
  auto at = message.find("principal `");
  if (at == std::string_view::npos) return {};
  at += 11;
  auto end = message.find('`', at);
  if (end == std::string_view::npos || end - at > 64) return {};
  return std::string(message.substr(at, end - at));
}

// "... audience is incorrect (https://cognitiveservices.azure.com) ..." → the URL.
std::string audience_in(std::string_view message) {
  auto at = message.find("(https://");
  if (at == std::string_view::npos) return {};
  auto end = message.find(')', at);
  if (end == std::string_view::npos || end - at > 100) return {};
  return std::string(message.substr(at + 1, end - at - 1));
}

std::string unauthorized_hint(const error_body& b, const error_context& ctx) {
  if (ctx.api_key) {
    return "the api-key was rejected: use key 1 or key 2 of this very resource (Keys and "
           "Endpoint in the portal) and the resource's own endpoint";
  }
  std::string expected;
  if (auto aud = audience_in(b.message); !aud.empty()) {
    expected = aud + "/.default";
  } else {
    expected = scope_for_endpoint(ctx.endpoint).scope;
  }
  const auto host = host_of(ctx.endpoint);
  if (!ctx.scope.empty() && !ctx.endpoint.empty() && !scope_fits_host(ctx.scope, ctx.endpoint)) {
    return fmt::format(
        "the token was requested for scope {}, which {} does not accept; request it for {}",
        ctx.scope, host, expected);
  }
  return fmt::format(
      "the bearer token was refused: its scope must be {} (audience {}); it may also have "
      "expired or come from a tenant other than the resource's",
      expected, expected.substr(0, expected.size() - std::string_view("/.default").size()));
}

std::string permission_hint(const error_body& b) {
  auto principal = principal_of(b.message);
  auto who = principal.empty() ? std::string("this identity")
                               : fmt::format("this identity (object id {})", principal);
  return fmt::format(
      "{} needs the \"{}\" role (or another role with the OpenAI data actions) on this "
      "resource; new role assignments take about 5-10 minutes to apply, so a fresh one may "
      "not work yet",
      who, openai_user_role);
}

std::string hint_for(int status, const error_body& b, const error_context& ctx,
                     const std::optional<std::chrono::milliseconds>& retry_after) {
  const bool permission =
      b.code == "PermissionDenied" || contains(b.message, "lacks the required data action");
  if ((status == 401 || status == 403) && permission) return permission_hint(b);
  if (status == 401) return unauthorized_hint(b, ctx);
  if (status == 403) {
    if (contains(b.message, "irtual network") || contains(b.message, "rivate endpoint") ||
        contains(b.message, "firewall") || contains(b.message, "Firewall"))
      return "the resource's network rules (firewall, virtual network or private endpoint) "
             "block this client";
    return fmt::format(
        "the caller is not allowed to use this resource; check its \"{}\" role "
        "assignment",
        openai_user_role);
  }
  if (status == 404) {
    if (b.code == "DeploymentNotFound") {
      auto name = ctx.deployment.empty() ? std::string() : fmt::format(" \"{}\"", ctx.deployment);
      return fmt::format(
          "check the deployment name{}: it is the name given to the deployment, not the "
          "model's name, and a new deployment can take a few minutes to appear",
          name);
    }
    return "check the endpoint URL and the api-version";
  }
  if (status == 429) {
    auto when = retry_after ? fmt::format("the service asked to wait {:g} s; ",
                                          static_cast<double>(retry_after->count()) / 1000.0)
                            : std::string();
    return fmt::format(
        "the deployment is throttled (its tokens- or requests-per-minute quota is used up); "
        "{}slow down or raise the deployment's quota",
        when);
  }
  if (status == 400 &&
      (b.code == "content_filter" || b.inner_code == "ResponsibleAIPolicyViolation"))
    return "Azure's content filter blocked the prompt";
  if (status >= 500) return "the service failed; retrying later may succeed";
  return {};
}

}  // namespace

std::string printable_excerpt(std::string_view text, std::size_t max_bytes) {
  bool cut = false;
  if (text.size() > max_bytes) {
    std::size_t end = max_bytes;
    // Back off to the start of a UTF-8 sequence.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string out;
  out.reserve(text.size() + 3);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? ' ' : c);
  }
  if (cut) out += "\xE2\x80\xA6";  // …
  return out;
}

std::string request_id_of(const http::fields& headers) {
  for (std::string_view name : {"apim-request-id", "x-ms-request-id", "x-request-id"})
    if (auto v = find_header(headers, name); v && !v->empty()) return printable_excerpt(*v, 100);
  return {};
}

error service_error(int status, std::string_view body, const http::fields& headers,
                    const error_context& context) {
  const auto b = read_body(body);
  diagnostics d;
  d.http_status = status;
  d.service_code = printable_excerpt(b.code.empty() ? b.inner_code : b.code, 100);
  d.request_id = request_id_of(headers);
  const auto now =
      context.now ? *context.now
                  : std::chrono::time_point_cast<clock::duration>(std::chrono::system_clock::now());
  if (auto delay = server_retry_delay(headers, now); delay && delay->count() > 0)
    d.retry_after = *delay;
  d.hint = hint_for(status, b, context, d.retry_after);

  std::string detail;
  if (!b.message.empty()) {
    detail = printable_excerpt(b.message, max_message_bytes);
  } else if (!b.json && !body.empty()) {
    detail = printable_excerpt(body, max_raw_body_bytes);
  } else {
    detail = "no error message";
  }
  auto message =
      d.service_code.empty()
          ? fmt::format("Azure OpenAI returned HTTP {}: {}", status, detail)
          : fmt::format("Azure OpenAI returned HTTP {} ({}): {}", status, d.service_code, detail);
  if (!d.hint.empty()) message += fmt::format(" Hint: {}.", d.hint);
  return error(errc::http_status, message, std::move(d));
}

error stream_event_error(std::string_view code, std::string_view message) {
  diagnostics d;
  d.service_code = printable_excerpt(code, 100);
  if (code == "content_filter") d.hint = "Azure's content filter stopped the completion";
  auto text = message.empty() ? std::string("An error occurred during streaming")
                              : printable_excerpt(message, max_message_bytes);
  auto full =
      d.service_code.empty()
          ? fmt::format("Azure OpenAI reported an error mid-stream: {}", text)
          : fmt::format("Azure OpenAI reported an error mid-stream ({}): {}", d.service_code, text);
  if (!d.hint.empty()) full += fmt::format(" Hint: {}.", d.hint);
  return error(errc::http_status, full, std::move(d));
}

}  // namespace keyless::openai
