// libFuzzer target for token-response JSON and every expiry format identity
// services write: Entra's integer expires_in, IMDS's string expires_in and
// expires_on, App Service's epoch string and "MM/DD/YYYY hh:mm:ss +00:00",
// RFC 3339 / RFC 1123 strings, refresh_in; plus the error-body parser.
// Oracles: only keyless::error(malformed_response) may be thrown; a parsed
// token is non-empty, expires after "now" is not required (an expired token is
// a valid parse) but never before the epoch, and refresh_on is never after
// expires_on; the error message never contains the access_token value; each
// expiry parser's answer lies between the epoch and 9999-12-31.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "identity/expiry_parse.hpp"
#include "identity/token_response.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"

namespace {

namespace kd = keyless::identity::detail;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_time(const std::optional<kd::sys_seconds>& t) {
  if (!t) return;
  const auto s = t->time_since_epoch().count();
  check(s >= -62'135'596'800 && s <= static_cast<long long>(kd::max_epoch_seconds));
}

// The access_token string of the input, when it is JSON with one.
std::string token_of(std::string_view input) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view token;
  if (parser.parse(input.data(), input.size()).get(doc) != simdjson::SUCCESS) return {};
  if (doc["access_token"].get(token) != simdjson::SUCCESS) return {};
  return std::string(token);
}

bool looks_like_a_token(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~+/=").find(c) != std::string_view::npos;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  keyless::manual_clock clock(std::chrono::system_clock::time_point{} +
                              std::chrono::seconds(1'700'000'000));

  for (bool half_life : {false, true}) {
    std::string body(input);
    try {
      auto token = kd::parse_token_response(
          body, clock, {.context = "fuzz token response", .half_life_refresh = half_life});
      check(!token.token().empty());
      check(token.refresh_on() <= token.expires_on());
    } catch (const keyless::error& e) {
      check(e.code() == keyless::errc::malformed_response);
      // A token-shaped value (token characters only, no spaces) long enough not to occur in
      // fixed text by chance must not be echoed. Free text is not checked: the fuzzer finds
      // access_token values equal to words of the library's own messages.
      const std::string secret = token_of(input);
      if (secret.size() >= 24 && looks_like_a_token(secret))
        check(std::string_view(e.what()).find(secret) == std::string_view::npos);
    }
  }

  if (auto err = kd::parse_service_error(input)) {
    for (char c : err->description) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    check(err->description.size() <= 1024);
  }
  if (auto code = kd::find_aadsts_code(input))
    check(code->starts_with("AADSTS") && code->size() > 6);

  // The expiry parsers one by one, on the raw text.
  if (auto n = kd::parse_exact_decimal(input, kd::max_epoch_seconds)) {
    check(*n <= kd::max_epoch_seconds);
    // Leading zeros are allowed; the value must be the text's.
    const auto digits = input.find_first_not_of('0');
    check(std::to_string(*n) == (digits == std::string_view::npos ? "0" : input.substr(digits)));
  }
  check_time(kd::parse_rfc3339(input));
  check_time(kd::parse_rfc1123(input));
  check_time(kd::parse_app_service_time(input));
  check_time(kd::parse_expires_on_text(input));
  if (auto t = kd::parse_local_time(input)) {
    (void)kd::to_time_point(*t);
  }
  if (auto t = kd::parse_expires_on_text(input)) {
    (void)kd::to_time_point(*t);
    (void)kd::add_seconds(clock.now(), static_cast<std::uint64_t>(t->time_since_epoch().count()));
  }
  return 0;
}
