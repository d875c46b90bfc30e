// keyless token: an access token in the shape of `az account get-access-token --output json`,
// so scripts written for az work unchanged in containers and pipelines without it.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <asio/io_context.hpp>

#include "command_line.hpp"
#include "commands.hpp"
#include "credential_choice.hpp"
#include "failure_text.hpp"
#include "keyless/identity/token_claims.hpp"
#include "run_sync.hpp"
#include "token_output.hpp"

namespace keyless::cli {
namespace {

// Azure OpenAI's scope: what keyless users ask for almost always. az itself defaults to ARM.
constexpr std::string_view default_scope = "https://cognitiveservices.azure.com/.default";

constexpr std::array<option_spec, 5> token_options{{
    {"scope", "S", "the scope to request (default https://cognitiveservices.azure.com/.default)"},
    {"resource", "R", "request the scope R/.default instead, as az --resource does"},
    {"tenant", "T", "get the token from tenant T (workload identity, service principal, CLIs)"},
    {"credential", "C", "default (the whole chain), environment, workload, managed, cli or azd"},
    {"output", "F", "json (az's shape, the default) or tsv"},
}};

constexpr std::string_view token_description =
    "Prints an access token in the JSON shape of `az account get-access-token --output json`\n"
    "(accessToken, expiresOn in local time, expires_on, tenant, tokenType) plus `source`, the\n"
    "credential that produced it. Reads the same environment variables as the library\n"
    "(AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE,\n"
    "IDENTITY_ENDPOINT, AZURE_TOKEN_CREDENTIALS, ...). Exit status 0 with the token on stdout;\n"
    "otherwise 1 with the chain's explanation on stderr.";

struct token_result {
  identity::access_token token;
  std::string source;
};

asio::awaitable<token_result> fetch(std::shared_ptr<identity::chained_token_credential> chain,
                                    identity::token_request request) {
  token_result r;
  r.token = co_await chain->get_token(std::move(request));
  r.source = chain->last_report().winner.value_or(std::string(chain->name()));
  co_return r;
}

}  // namespace

int run_token(std::span<const std::string> arguments) {
  const auto args = parse_arguments(arguments, token_options);
  if (args.help()) {
    std::fputs(format_help("keyless token [options]", token_description, token_options).c_str(),
               stdout);
    return 0;
  }
  if (!args.positional().empty()) {
    throw usage_error(fmt::format("unexpected argument '{}'", args.positional().front()));
  }
  const auto scope = args.value("scope");
  const auto resource = args.value("resource");
  if (scope && resource) throw usage_error("give --scope or --resource, not both");
  std::string wanted = scope      ? *scope
                       : resource ? *resource + "/.default"
                                  : std::string(default_scope);
  if (wanted.empty() || wanted == "/.default") throw usage_error("the scope must not be empty");
  const auto output = args.value_or("output", "json");
  if (output != "json" && output != "tsv") {
    throw usage_error(fmt::format("--output must be json or tsv, not '{}'", output));
  }
  const auto kind = parse_credential_kind(args.value_or("credential", "default"));
  const auto tenant = args.value("tenant");

  identity::token_request request;
  request.scopes.push_back(std::move(wanted));
  request.tenant = tenant;

  asio::io_context io;
  token_result result;
  try {
    auto chain = make_credential(io.get_executor(), kind, tenant);
    result = run_sync(io, fetch(chain, std::move(request)));
  } catch (...) {
    print_failure("token", std::current_exception());
    return 1;
  }

  token_output out;
  out.access_token = result.token.token();
  out.expires_on = result.token.expires_on();
  out.source = result.source;
  // The tenant az reports is the one that issued the token; the token says so itself. An
  // opaque (non-JWT) token falls back to what was asked for.
  if (auto claims = identity::read_token_claims(result.token.token());
      claims && !claims->tenant_id.empty()) {
    out.tenant = claims->tenant_id;
  } else if (tenant) {
    out.tenant = *tenant;
  } else if (const char* env = std::getenv("AZURE_TENANT_ID"); env && *env) {
    out.tenant = env;
  }
  const auto text = output == "json" ? format_token_json(out) : format_token_tsv(out);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace keyless::cli
