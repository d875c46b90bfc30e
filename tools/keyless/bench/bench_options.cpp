#include "bench_options.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace keyless::cli::bench {
namespace {

constexpr option_spec specs[] = {
    {"endpoint", "URL", "Azure OpenAI endpoint (default: $AZURE_OPENAI_ENDPOINT)"},
    {"deployment", "NAME", "deployment to call (default: $AZURE_OPENAI_DEPLOYMENT)"},
    {"api-version", "V", "api-version (default: $OPENAI_API_VERSION, else the client's own)"},
    {"api-key-env", "VAR",
     "variable holding the resource key for api-key rounds (default: AZURE_OPENAI_API_KEY)"},
    {"mode", "MODE", "keyless (default), api-key, or both: alternating api-key and keyless rounds"},
    {"concurrency", "N", "requests in flight at once (default 1)"},
    {"requests", "M", "requests per mode (default 100)"},
    {"duration", "S", "seconds per mode instead of a request count (e.g. 30 or 2.5)"},
    {"stream", "", "stream the replies; adds time to first chunk and chunks/s"},
    {"http", "VERSION",
     "1.1 (default: a connection per request in flight) or 2 (one multiplexed connection per "
     "thread; the token crosses the wire once per connection)"},
    {"max-tokens", "K", "max_tokens of each request (default 16)"},
    {"prompt", "TEXT", "the user message (default: a short greeting request)"},
    {"threads", "T", "threads, each with its own io_context (default 1)"},
    {"output", "FORMAT", "text (default) or json"},
};

constexpr std::uint64_t default_requests = 100;
// A week: longer is surely a typo, and seconds must still fit the clock's range.
constexpr double max_duration_seconds = 7 * 24 * 3600;

std::chrono::nanoseconds parse_duration(const std::string& text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc{} || ptr != end || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > max_duration_seconds) {
    throw usage_error(
        fmt::format("--duration must be a number of seconds above 0 and at most {}, not '{}'",
                    static_cast<long long>(max_duration_seconds), text));
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
}

}  // namespace

std::string_view display_name(round_auth auth) noexcept {
  return auth == round_auth::api_key ? "api-key" : "keyless";
}

std::string_view json_name(round_auth auth) noexcept {
  return auth == round_auth::api_key ? "api_key" : "keyless";
}

std::span<const option_spec> bench_option_specs() noexcept {
  return specs;
}

std::string bench_help() {
  return format_help(
      "keyless bench [options]",
      "Load generator for Azure OpenAI chat completions through keyless's chat client.\n"
      "Sends one probe request per mode first (a bad endpoint, key or identity fails here,\n"
      "before the run), then keeps N requests in flight. Reports requests/s, latency\n"
      "percentiles, errors by status and kind, client CPU per request, peak memory, token\n"
      "fetches and the share of wall time spent waiting for tokens. --mode both alternates\n"
      "api-key and keyless rounds and reports keyless / api-key for each figure. Requests\n"
      "are not retried (a 429 is an error here, not a hidden delay). Ctrl-C stops the run\n"
      "and prints what ran (exit status 130).",
      specs);
}

std::optional<bench_options> parse_bench_options(std::span<const std::string> arguments,
                                                 const environment_lookup& environment) {
  const parsed_arguments args = parse_arguments(arguments, specs);
  if (args.help()) return std::nullopt;
  if (!args.positional().empty()) {
    throw usage_error(fmt::format("unexpected argument '{}' (the prompt goes in --prompt)",
                                  args.positional()[0]));
  }

  bench_options o;
  o.endpoint = args.value_or("endpoint", environment("AZURE_OPENAI_ENDPOINT"));
  if (o.endpoint.empty()) {
    throw usage_error("no endpoint: pass --endpoint URL or set AZURE_OPENAI_ENDPOINT");
  }
  o.deployment = args.value_or("deployment", environment("AZURE_OPENAI_DEPLOYMENT"));
  if (o.deployment.empty()) {
    throw usage_error("no deployment: pass --deployment NAME or set AZURE_OPENAI_DEPLOYMENT");
  }
  o.api_version = args.value_or("api-version", "");

  if (auto mode = args.value("mode")) {
    if (*mode == "keyless") {
      o.mode = auth_mode::keyless;
    } else if (*mode == "api-key") {
      o.mode = auth_mode::api_key;
    } else if (*mode == "both") {
      o.mode = auth_mode::both;
    } else {
      throw usage_error(fmt::format("--mode must be keyless, api-key or both, not '{}'", *mode));
    }
  }
  o.api_key_env = args.value_or("api-key-env", o.api_key_env);
  if (o.api_key_env.empty()) throw usage_error("--api-key-env needs a variable name");
  if (o.uses(round_auth::api_key)) {
    o.api_key = environment(o.api_key_env);
    if (o.api_key.empty()) {
      throw usage_error(fmt::format(
          "--mode {} needs the resource key in ${} (set it, or name another variable with "
          "--api-key-env)",
          o.mode == auth_mode::both ? "both" : "api-key", o.api_key_env));
    }
  }

  o.concurrency = static_cast<std::size_t>(args.number("concurrency", 1, 100000).value_or(1));
  o.threads = static_cast<std::size_t>(args.number("threads", 1, 1024).value_or(1));
  if (o.threads > o.concurrency) {
    throw usage_error(fmt::format(
        "--threads {} is more than --concurrency {}: every thread needs a request in flight",
        o.threads, o.concurrency));
  }

  const auto requests = args.number("requests", 1, 1'000'000'000'000LL);
  const auto duration = args.value("duration");
  if (requests && duration) {
    throw usage_error("give --requests or --duration, not both");
  }
  if (duration) {
    o.duration = parse_duration(*duration);
  } else {
    o.requests = requests ? static_cast<std::uint64_t>(*requests) : default_requests;
  }

  o.stream = args.flag("stream");
  if (auto version = args.value("http")) {
    if (*version == "1.1") {
      o.http_version = http::http_version::http1_1;
    } else if (*version == "2") {
      o.http_version = http::http_version::http2;
    } else if (*version == "auto") {
      o.http_version = http::http_version::automatic;
    } else {
      throw usage_error(fmt::format("--http must be 1.1, 2 or auto, not '{}'", *version));
    }
  }
  o.max_tokens = args.number("max-tokens", 1, 1'000'000).value_or(o.max_tokens);
  o.prompt = args.value_or("prompt", o.prompt);
  if (o.prompt.empty()) throw usage_error("--prompt must not be empty");

  if (auto output = args.value("output")) {
    if (*output == "text") {
      o.output = output_format::text;
    } else if (*output == "json") {
      o.output = output_format::json;
    } else {
      throw usage_error(fmt::format("--output must be text or json, not '{}'", *output));
    }
  }
  return o;
}

}  // namespace keyless::cli::bench
