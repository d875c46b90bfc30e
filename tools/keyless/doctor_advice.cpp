#include "doctor_advice.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "openai/scope_for_endpoint.hpp"

namespace keyless::cli {
namespace {

constexpr std::string_view role = "Cognitive Services OpenAI User";
constexpr std::string_view default_suffix = "/.default";

// "https://X/" and "https://x" are the same audience.
std::string normal_audience(std::string_view audience) {
  std::string a(audience);
  if (a.ends_with(default_suffix)) a.resize(a.size() - default_suffix.size());
  while (!a.empty() && a.back() == '/') a.pop_back();
  std::transform(a.begin(), a.end(), a.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return a;
}

std::string audience_of_scope(std::string_view scope) {
  std::string a(scope);
  if (a.ends_with(default_suffix)) a.resize(a.size() - default_suffix.size());
  return a;
}

}  // namespace

std::string indent(std::string_view text, std::string_view prefix) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out += prefix;
  }
  return out;
}

bool on_path(std::string_view name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view rest(path);
  while (true) {
    const auto colon = rest.find(':');
    const auto dir = rest.substr(0, colon);
    if (!dir.empty()) {
      const auto candidate = std::string(dir) + "/" + std::string(name);
      if (::access(candidate.c_str(), X_OK) == 0) return true;
    }
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

bool in_container() {
  std::error_code ec;
  const char* k8s = std::getenv("KUBERNETES_SERVICE_HOST");
  return std::filesystem::exists("/.dockerenv", ec) ||
         std::filesystem::exists("/run/.containerenv", ec) || (k8s != nullptr && *k8s != '\0');
}

std::string no_identity_advice(const identity::chain_report& report) {
  for (const auto& a : report.attempts) {
    if (a.code && a.code != errc::credential_unavailable) {
      return fmt::format(
          "{} is configured but failed, and the chain stops there rather than use another "
          "identity: fix its configuration (see its message above) or remove its variables.\n",
          a.source);
    }
  }
  std::string text =
      "How to give this program an identity:\n"
      "  - developer machine: `az login` (or `azd auth login`), then run again;\n"
      "  - Azure VM, App Service, Functions, Container Apps: enable a managed identity on the\n"
      "    resource (user-assigned: also set AZURE_CLIENT_ID to its client id);\n"
      "  - AKS: workload identity (pod label azure.workload.identity/use: \"true\", service\n"
      "    account annotated with the client id); the webhook sets AZURE_FEDERATED_TOKEN_FILE,\n"
      "    AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST;\n"
      "  - anywhere else (CI, servers): a service principal in AZURE_TENANT_ID, AZURE_CLIENT_ID\n"
      "    and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH for a PEM certificate).\n";
  if (!on_path("az")) {
    text += fmt::format(
        "\n{}az is not on PATH, so the host's `az login` cannot be used here.\nInstead:\n"
        "  - pass a service principal: docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID\n"
        "    -e AZURE_CLIENT_SECRET ... (or mount its certificate and set\n"
        "    AZURE_CLIENT_CERTIFICATE_PATH);\n"
        "  - or install az in the image and mount the host's login read-only:\n"
        "    -v $HOME/.azure:/root/.azure:ro (AZURE_CONFIG_DIR if it lives elsewhere);\n"
        "  - or project a federated token file and set AZURE_FEDERATED_TOKEN_FILE,\n"
        "    AZURE_CLIENT_ID and AZURE_TENANT_ID (workload identity);\n"
        "  - to try things without Azure: run keyless-emulator and source its environment file.\n",
        in_container() ? "This looks like a container and " : "");
  }
  return text;
}

audience_check check_audience(std::string_view endpoint, std::string_view scope,
                              std::string_view audience) {
  const auto expected = openai::scope_for_endpoint(endpoint);
  const auto host = openai::host_of(endpoint);
  const auto expected_audience = audience_of_scope(expected.scope);
  const std::string have = audience.empty() ? audience_of_scope(scope) : std::string(audience);
  const char* what = audience.empty() ? "the requested scope's audience" : "token audience";
  audience_check out;
  if (expected.guessed) {
    // scope_fits_host cannot judge unknown hosts; compare with the public-cloud guess.
    const auto n = normal_audience(have);
    out.fits = n == normal_audience(expected_audience) || n == "https://ai.azure.com";
  } else {
    out.fits =
        openai::scope_fits_host(normal_audience(have) + std::string(default_suffix), endpoint);
  }
  const std::string guess_note =
      expected.guessed ? fmt::format(
                             " ({} is not a known Azure AI host, so this is the public-"
                             "cloud default: right for custom domains and the emulator, "
                             "not for a gateway with its own audience)",
                             host)
                       : std::string();
  if (out.fits) {
    out.text = fmt::format("Audience: {} {} fits {}{}.\n", what, have, host, guess_note);
  } else {
    out.text = fmt::format(
        "Audience: {} {} does NOT fit {}: it accepts tokens for {}{}.\n"
        "  Fix: request the token for {} (in code: bearer_token_provider(credential, \"{}\")); "
        "a token for another audience is refused with 401.\n",
        what, have, host, expected_audience, guess_note, expected.scope, expected.scope);
  }
  return out;
}

std::string explain_request_failure(const inspection& failure, const openai_target& target,
                                    std::string_view scope, std::string_view object_id,
                                    std::chrono::milliseconds elapsed) {
  const auto& d = failure.details;
  std::string text =
      fmt::format("  FAILED after {} ms: {}\n", elapsed.count(), indent(failure.message, "  "));
  if (!d.request_id.empty()) text += fmt::format("  request id: {}\n", d.request_id);
  const int status = d.http_status.value_or(0);
  const bool permission = d.service_code == "PermissionDenied" || status == 403;
  const auto expected = openai::scope_for_endpoint(target.endpoint);
  const std::string who =
      object_id.empty() ? "<object id of the identity>" : std::string(object_id);
  if (permission) {
    text += fmt::format(
        "\nWhy: the token was accepted, but the identity (object id {})\n"
        "has no data-plane role on this resource. Owner or Contributor are not enough: they\n"
        "manage the resource but cannot call the model.\n"
        "Fix: assign the \"{}\" role on the resource:\n"
        "  az role assignment create --assignee {} --role \"{}\" \\\n"
        "    --scope /subscriptions/<subscription>/resourceGroups/<group>/providers/"
        "Microsoft.CognitiveServices/accounts/<resource>\n"
        "A new role assignment takes up to about 10 minutes to apply: if you just created it,\n"
        "wait and run `keyless doctor` again (chat_client_options::permission_grace makes a\n"
        "program wait it out).\n",
        who, role, who, role);
    if (failure.message.find("irtual network") != std::string::npos ||
        failure.message.find("irewall") != std::string::npos) {
      text +=
          "The message names network rules: this client's address must also be allowed by "
          "the resource's firewall or private endpoint.\n";
    }
  } else if (status == 401) {
    text += fmt::format(
        "\nWhy: the service refused the token itself. Check, in this order:\n"
        "  1. scope: tokens for {} must be requested for {}; this one was requested for {};\n"
        "  2. tenant: the token must come from the resource's tenant (az login --tenant <id>,\n"
        "     or AZURE_TENANT_ID for a service principal or workload identity);\n"
        "  3. expiry and clock: a token that expired, or a machine clock that is far off, is\n"
        "     refused too.\n",
        openai::host_of(target.endpoint), expected.scope, scope);
  } else if (status == 404) {
    text += fmt::format(
        "\nWhy: no deployment named \"{}\" answers at this endpoint (or the api-version is\n"
        "unknown). Use the deployment's name (not the model's) from the resource's Deployments\n"
        "page; a new deployment can take a few minutes to appear.\n",
        target.deployment);
  } else if (status == 429) {
    text +=
        "\nThe identity works: the deployment is throttled (quota used up). Slow down or "
        "raise its tokens-per-minute quota.\n";
  } else if (failure.code == errc::tls_failed) {
    text +=
        "\nWhy: the TLS certificate of the endpoint is not trusted. For the emulator or a\n"
        "private CA, point SSL_CERT_FILE at the CA bundle (the emulator's environment file\n"
        "sets it).\n";
  } else if (failure.code == errc::connection_failed || failure.code == errc::timeout) {
    text +=
        "\nWhy: the endpoint could not be reached, or it closed the connection before its answer\n"
        "was complete. Check the URL, DNS, a proxy (https_proxy, no_proxy), a gateway in\n"
        "between and the resource's network rules.\n";
  }
  return text;
}

}  // namespace keyless::cli
