// libFuzzer target for what the Azure CLI and the Azure Developer CLI print:
// the JSON of `az account get-access-token` (accessToken, expires_on epoch,
// expiresOn local time) and `azd auth token` (token, expiresOn RFC 3339), and
// the stderr helpers that turn CLI errors into messages. Oracles: only
// keyless::error(malformed_response) is thrown; a parsed token is non-empty;
// error messages never echo the token; the stderr excerpts are free of control
// characters, capped, and never contain a run of 32+ token characters.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "identity/cli_common.hpp"
#include "identity/cli_output.hpp"
#include "keyless/core/error.hpp"

namespace {

namespace kd = keyless::identity::detail;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string string_field(std::string_view input, const char* name) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view value;
  if (parser.parse(input.data(), input.size()).get(doc) != simdjson::SUCCESS) return {};
  if (doc[name].get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '+' || c == '/' || c == '=';
}

void check_excerpt(std::string_view text, std::size_t limit) {
  check(text.size() <= limit + 16);
  if (text.ends_with("...")) text.remove_suffix(3);  // the truncation mark is not content
  std::size_t run = 0;
  for (char c : text) {
    check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    run = token_char(c) ? run + 1 : 0;
    // GUIDs (36 characters with dashes) are kept on purpose.
    check(run <= 36);
  }
}

template <typename Parse>
void parse_one(std::string_view input, const char* token_name, Parse parse) {
  std::string out(input);
  try {
    auto token = parse(out);
    check(!token.token().empty());
  } catch (const keyless::error& e) {
    check(e.code() == keyless::errc::malformed_response);
    const std::string secret = string_field(input, token_name);
    if (secret.size() >= 24)
      check(std::string_view(e.what()).find(secret) == std::string_view::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  parse_one(input, "accessToken", [](std::string& s) { return kd::parse_az_output(s); });
  parse_one(input, "token", [](std::string& s) { return kd::parse_azd_output(s); });

  check_excerpt(kd::redacted_excerpt(input), 200);
  check_excerpt(kd::redacted_excerpt(input, 40), 40);
  check_excerpt(kd::first_error_line(input), 200);
  (void)kd::azd_stderr_text(input);
  check_excerpt(kd::first_error_line(kd::azd_stderr_text(input)), 200);
  return 0;
}
