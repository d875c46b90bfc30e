// keyless doctor: answers "which identity am I using, and why does Azure OpenAI say 401/403?"
// in one run: the chain source by source, the winning identity's claims, whether the token's
// audience fits the endpoint, and one tiny request whose failure is explained with the fix.

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <asio/io_context.hpp>

#include "command_line.hpp"
#include "commands.hpp"
#include "credential_choice.hpp"
#include "doctor_advice.hpp"
#include "failure_text.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_claims.hpp"
#include "keyless/openai/chat_client.hpp"
#include "openai/scope_for_endpoint.hpp"
#include "openai_target.hpp"
#include "run_sync.hpp"
#include "token_output.hpp"

namespace keyless::cli {
namespace {

constexpr std::array<option_spec, 3> doctor_options{{
    {"endpoint", "URL", "the resource endpoint (default: AZURE_OPENAI_ENDPOINT)"},
    {"deployment", "D",
     "the deployment to send one tiny request to (default: "
     "AZURE_OPENAI_DEPLOYMENT)"},
    {"scope", "S", "request tokens for S instead of the scope derived from the endpoint"},
}};

constexpr std::string_view doctor_description =
    "Walks the default credential chain and shows each source (available, skipped or failed,\n"
    "why, and how long it took), the identity that won (tenant, object id, audience and expiry\n"
    "read from the token, for diagnosis only), whether the token's audience fits the endpoint,\n"
    "and the outcome of one tiny chat request, explaining a 401 or 403 with the fix. The token\n"
    "itself is never printed. Exit status 0 when everything checked works, 1 otherwise.";

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

void say(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

struct token_outcome {
  identity::access_token token;
  std::exception_ptr failure;
};

asio::awaitable<token_outcome> get_token(identity::bearer_token_provider tokens) {
  token_outcome out;
  try {
    out.token = co_await tokens();
  } catch (...) {
    out.failure = std::current_exception();
  }
  co_return out;
}

struct request_outcome {
  std::exception_ptr failure;
  milliseconds elapsed{0};
  std::string model;
};

asio::awaitable<request_outcome> ping(openai::chat_client client) {
  request_outcome out;
  openai::chat_request request;
  request.messages.push_back({"user", "ping"});
  request.max_tokens = 1;
  const auto start = steady::now();
  try {
    auto reply = co_await client.complete(std::move(request));
    out.model = reply.model;
  } catch (...) {
    out.failure = std::current_exception();
  }
  out.elapsed = std::chrono::duration_cast<milliseconds>(steady::now() - start);
  co_return out;
}

std::string source_line(const source_attempt& a, const std::optional<std::string>& winner) {
  std::string state;
  if (a.code == errc::credential_unavailable) {
    state = "skipped";
  } else if (a.code) {
    state = "failed";
  } else if (a.message == "succeeded") {
    state = winner && *winner == a.source ? "available, used" : "available";
  } else {
    state = a.message;  // "not tried", "cancelled", ...
  }
  auto line = fmt::format("  {:<28} {:<16}", a.source, state);
  if (state == "not tried" || state == "cancelled") {
    line += " (a source ahead of it decided the chain)";
  } else {
    line += fmt::format(" {:>6} ms", a.elapsed.count());
  }
  if (a.code) line += fmt::format("\n      {}", indent(a.message, "      "));
  return line + "\n";
}

std::string relative(std::chrono::system_clock::time_point t) {
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(t - std::chrono::system_clock::now());
  if (left.count() < 0) return fmt::format("EXPIRED {} s ago", -left.count());
  return fmt::format("in {} min", left.count() / 60);
}

}  // namespace

int run_doctor(std::span<const std::string> arguments) {
  const auto args = parse_arguments(arguments, doctor_options);
  if (args.help()) {
    std::fputs(format_help("keyless doctor [options]", doctor_description, doctor_options).c_str(),
               stdout);
    return 0;
  }
  if (!args.positional().empty()) {
    throw usage_error(fmt::format("unexpected argument '{}'", args.positional().front()));
  }
  const auto target = read_openai_target(args);
  const auto given_scope = args.value("scope");
  if (given_scope && given_scope->empty()) throw usage_error("--scope must not be empty");

  std::optional<openai::endpoint_scope> derived;
  if (!target.endpoint.empty()) derived = openai::scope_for_endpoint(target.endpoint);
  const std::string scope = given_scope ? *given_scope
                            : derived   ? derived->scope
                                        : "https://cognitiveservices.azure.com/.default";
  bool healthy = true;

  say("keyless doctor\n\n");
  say(fmt::format("endpoint:    {}\n", target.endpoint.empty()
                                           ? "(none: pass --endpoint or set AZURE_OPENAI_ENDPOINT)"
                                           : target.endpoint));
  say(fmt::format("deployment:  {}\n",
                  target.deployment.empty()
                      ? "(none: pass --deployment or set AZURE_OPENAI_DEPLOYMENT)"
                      : target.deployment));
  say(fmt::format("scope:       {} ({})\n\n", scope,
                  given_scope ? "from --scope"
                  : derived   ? (derived->guessed ? "guessed: the endpoint is not a known Azure "
                                                    "AI host"
                                                  : "derived from the endpoint")
                              : "the Azure OpenAI default"));

  asio::io_context io;
  std::shared_ptr<identity::chained_token_credential> chain;
  try {
    chain = make_credential(io.get_executor(), credential_kind::chain, std::nullopt);
  } catch (...) {
    print_failure("doctor", std::current_exception());
    return 1;
  }
  identity::bearer_token_provider tokens(chain, scope);
  const auto outcome = run_sync(io, get_token(tokens));
  const auto report = chain->last_report();

  say(fmt::format("Credential chain ({}, in priority order):\n", chain->name()));
  for (const auto& attempt : report.attempts) say(source_line(attempt, report.winner));
  say("\n");

  if (outcome.failure) {
    const auto failure = inspect_failure(outcome.failure);
    say("No identity: no source could get a token.\n");
    // The listing above already says why each source failed; add only the verdict's fix.
    if (!failure.details.hint.empty()) {
      say(fmt::format("Most likely fix: {}\n", failure.details.hint));
    }
    say("\n");
    say(no_identity_advice(report));
    return 1;
  }

  say(fmt::format("Identity: {}\n", report.winner.value_or(std::string(chain->name()))));
  const auto claims = identity::read_token_claims(outcome.token.token());
  if (claims) {
    say(fmt::format("  tenant:    {}\n", claims->tenant_id.empty() ? "?" : claims->tenant_id));
    say(fmt::format("  object id: {}\n", claims->object_id.empty() ? "?" : claims->object_id));
    if (!claims->app_id.empty()) say(fmt::format("  app id:    {}\n", claims->app_id));
    if (!claims->user.empty()) say(fmt::format("  user:      {}\n", claims->user));
    say(fmt::format("  audience:  {}\n", claims->audience.empty() ? "?" : claims->audience));
  } else {
    say("  (the token is not a JWT, so its claims cannot be shown)\n");
  }
  const auto expiry =
      claims && claims->expires_on ? *claims->expires_on : outcome.token.expires_on();
  say(fmt::format("  expires:   {} ({})\n", az_local_time(expiry), relative(expiry)));
  say("  (claims are read without verifying the signature: for diagnosis only)\n\n");

  if (target.endpoint.empty()) {
    say("Audience and request: skipped, no endpoint given.\n");
    return 0;
  }
  const auto fit = check_audience(target.endpoint, scope, claims ? claims->audience : "");
  say(fit.text);
  if (!fit.fits) healthy = false;

  if (target.deployment.empty()) {
    say("\nRequest: skipped, no deployment given.\n");
    return healthy ? 0 : 1;
  }
  std::optional<openai::chat_client> client;
  try {
    openai::chat_client_options options;
    options.endpoint = target.endpoint;
    options.deployment = target.deployment;
    options.auth = tokens;
    // One attempt: the doctor reports what happens, it does not wait out throttling.
    options.max_retries = 0;
    options.request_timeout = std::chrono::seconds(30);
    client.emplace(io.get_executor(), std::move(options));
  } catch (...) {
    say(fmt::format("\nRequest: cannot be made.\n  {}\n",
                    describe_failure("doctor", std::current_exception())));
    return 1;
  }
  say(fmt::format("\nRequest: POST {}\n", client->url()));
  const auto result = run_sync(io, ping(*client));
  if (!result.failure) {
    say(fmt::format("  OK in {} ms{}: this identity can use the deployment.\n",
                    result.elapsed.count(),
                    result.model.empty() ? "" : fmt::format(" (model {})", result.model)));
    return healthy ? 0 : 1;
  }
  say(explain_request_failure(inspect_failure(result.failure), target, scope,
                              claims ? claims->object_id : "", result.elapsed));
  return 1;
}

}  // namespace keyless::cli
