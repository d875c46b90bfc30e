#include "identity/cli_common.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

#include "core/env_value.hpp"
#include "core/logging.hpp"
#include "core/text.hpp"
#include "identity/token_response.hpp"
#include "json/reader.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/tenant_policy.hpp"

namespace keyless::identity::detail {

const cli_profile azure_cli_profile{"AzureCliCredential", "Azure CLI (az)",
                                    "https://aka.ms/azure-cli", "az login"};
const cli_profile azure_developer_cli_profile{"AzureDeveloperCliCredential",
                                              "Azure Developer CLI (azd)",
                                              "https://aka.ms/azd-install", "azd auth login"};

namespace {

bool ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Input text for a message: printable ASCII kept, the rest as '?', capped.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > 200) out += "...";
  return out;
}

template <typename Allowed>
void validate(const cli_profile& cli, std::string_view what, std::string_view value,
              Allowed allowed, std::string_view expected, std::string_view extra = {}) {
  const bool ok = !value.empty() && value.front() != '-' &&
                  std::all_of(value.begin(), value.end(), allowed) &&
                  value.find_first_not_of(' ') != std::string_view::npos;
  if (!ok) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: {} '{}' cannot be passed to {}: expected {}, not "
                    "starting with '-'{}",
                    cli.credential, what, printable(value), cli.display, expected, extra));
  }
}

bool token_alphabet(char c) noexcept {
  return ascii_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' ||
         c == '-';
}

bool name_mentions_token(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("token") != std::string::npos;
}

// "name": "value" pairs whose name mentions a token get the value masked.
std::string mask_token_fields(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t name_end = text.find('"', i + 1);
    if (name_end == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    const std::string_view name = text.substr(i + 1, name_end - i - 1);
    out.append(text.substr(i, name_end - i + 1));
    i = name_end + 1;
    std::size_t j = i;
    while (j < text.size() && text[j] == ' ') ++j;
    if (!name_mentions_token(name) || j >= text.size() || text[j] != ':') continue;
    ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    if (j >= text.size() || text[j] != '"') continue;
    // Skip the value up to its closing quote (or the end of the line).
    std::size_t k = j + 1;
    while (k < text.size() && text[k] != '"') k += text[k] == '\\' ? 2 : 1;
    out.append(text.substr(i, j - i));
    out.append("\"****\"");
    i = std::min(k + 1, text.size());
  }
  return out;
}

std::string mask_long_runs(std::string_view text) {
  // 32 characters: long enough for words, paths segments and GUIDs (which
  // are kept), far shorter than any access token or its signature.
  constexpr std::size_t longest_kept = 31;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!token_alphabet(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && token_alphabet(text[end])) ++end;
    const std::string_view run = text.substr(i, end - i);
    if (run.size() <= longest_kept || keyless::detail::guid_shaped(run)) {
      out.append(run);
    } else {
      out.append("<redacted>");
    }
    i = end;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

void validate_scope(const cli_profile& cli, std::string_view scope) {
  validate(
      cli, "scope", scope,
      [](char c) {
        return ascii_alnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '/';
      },
      "letters, digits and . - _ : /");
}

void validate_tenant(const cli_profile& cli, std::string_view tenant) {
  validate(
      cli, "tenant", tenant, [](char c) { return ascii_alnum(c) || c == '.' || c == '-'; },
      "letters, digits, '.' and '-'");
}

void validate_subscription(const cli_profile& cli, std::string_view subscription) {
  validate(
      cli, "subscription", subscription,
      [](char c) { return ascii_alnum(c) || c == '_' || c == '-' || c == '.' || c == ' '; },
      "letters, digits, '_', '-', '.' and spaces",
      ". If this is the name of a subscription, use its id instead");
}

std::string redacted_excerpt(std::string_view line, std::size_t limit) {
  std::string clean;
  for (char c : line) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) clean.push_back(c);
  }
  std::string out = mask_long_runs(mask_token_fields(keyless::detail::trim(clean)));
  if (out.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

std::string first_error_line(std::string_view text) {
  const auto lines = lines_of(text);
  for (auto line : lines) {
    line = keyless::detail::trim(line);
    if (line.starts_with("ERROR:")) return redacted_excerpt(keyless::detail::trim(line.substr(6)));
  }
  for (auto line : lines) {
    line = keyless::detail::trim(line);
    if (!line.empty() && !line.starts_with("WARNING:")) return redacted_excerpt(line);
  }
  for (auto line : lines) {
    if (!keyless::detail::trim(line).empty()) return redacted_excerpt(line);
  }
  return {};
}

std::string azd_stderr_text(std::string_view text) {
  namespace ondemand = simdjson::ondemand;
  std::string out;
  ondemand::parser parser;
  for (auto line : lines_of(text)) {
    if (keyless::detail::trim(line).empty()) continue;
    std::string message;
    json::padded_buffer buffer(line);
    ondemand::document document;
    ondemand::object object;
    ondemand::object data;
    std::string_view text_value;
    if (parser.iterate(buffer.padded()).get(document) == simdjson::SUCCESS &&
        document.get_object().get(object) == simdjson::SUCCESS &&
        object.find_field_unordered("data").get_object().get(data) == simdjson::SUCCESS &&
        data.find_field_unordered("message").get_string().get(text_value) == simdjson::SUCCESS) {
      message.assign(text_value);
    } else {
      message.assign(line);
    }
    if (!out.empty()) out.push_back('\n');
    out += message;
  }
  return out;
}

asio::awaitable<process_result> run_cli(const cli_profile& cli, process_options options) {
  if (!find_program(options)) {
    const bool is_path = options.program.find('/') != std::string::npos;
    diagnostics details;
    details.hint =
        fmt::format("Install it from {} and run '{}'.", cli.install_url, cli.login_command);
    throw keyless::error(
        errc::credential_unavailable,
        is_path ? fmt::format("{}: {} was not found at '{}' (no executable file there). {}",
                              cli.credential, cli.display, printable(options.program), details.hint)
                : fmt::format("{}: {} was not found on PATH. {}", cli.credential, cli.display,
                              details.hint),
        details);
  }
  try {
    co_return co_await run_process(std::move(options));
  } catch (const keyless::error& e) {
    // Not installed properly, hung, or babbling: none of these is a refusal
    // by Entra ID, so the chain should move on to its next source.
    throw keyless::error(errc::credential_unavailable,
                         fmt::format("{}: {}", cli.credential, e.message()), e.details());
  }
}

void throw_cli_failure(const cli_profile& cli, const process_result& result,
                       std::string_view stderr_text,
                       const std::vector<std::string_view>& login_markers,
                       std::string_view login_hint) {
  const std::string status = result.exit_code
                                 ? fmt::format("exited with status {}", *result.exit_code)
                                 : fmt::format("was killed by signal {}", result.signal);
  std::string line = first_error_line(stderr_text);
  if (line.empty()) line = first_error_line(result.out);
  diagnostics details;
  // AADSTS errors come first: az adds "Please run 'az login'" to them too,
  // but a refused secret or an expired refresh token is a real failure that
  // the user must fix, not "this source is not set up here".
  if (auto code = find_aadsts_code(stderr_text)) {
    details.service_code = *code;
    details.hint =
        fmt::format("Fix the problem Entra ID reports, or run '{}' again.", cli.login_command);
    throw keyless::error(errc::authentication_failed,
                         fmt::format("{}: {} {}: {}", cli.credential, cli.display, status, line),
                         details);
  }
  const bool wants_login = std::any_of(
      login_markers.begin(), login_markers.end(),
      [&](std::string_view marker) { return stderr_text.find(marker) != std::string_view::npos; });
  if (wants_login) {
    details.hint = std::string(login_hint);
    throw keyless::error(
        errc::credential_unavailable,
        fmt::format("{}: {} is not logged in. {}", cli.credential, cli.display, login_hint),
        details);
  }
  if (result.exit_code == 127) {
    details.hint = fmt::format("Reinstall it from {}.", cli.install_url);
    throw keyless::error(errc::credential_unavailable,
                         fmt::format("{}: {} is installed but could not run ({}): {}",
                                     cli.credential, cli.display, status, line),
                         details);
  }
  throw keyless::error(errc::credential_unavailable,
                       fmt::format("{}: {} {}{}{}", cli.credential, cli.display, status,
                                   line.empty() ? "" : ": ", line));
}

void throw_unusable_output(const cli_profile& cli, std::string_view reason, std::string_view out) {
  std::string quoted;
  const auto start = out.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && out[start] != '{' && out[start] != '[') {
    const auto line = out.substr(start, out.find_first_of("\r\n", start) - start);
    quoted = fmt::format(" (it began: '{}')", redacted_excerpt(line, 80));
  }
  throw keyless::error(errc::credential_unavailable,
                       fmt::format("{}: {} printed output keyless cannot use: {}{}", cli.credential,
                                   cli.display, reason, quoted));
}

bool multitenant_disabled_from_environment() {
  return multitenant_disabled_by(
      keyless::detail::env_value("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH"));
}

}  // namespace keyless::identity::detail
