#include "identity/token_response.hpp"

#include <chrono>
#include <ctime>

#include <fmt/core.h>

#include <algorithm>

#include "core/text.hpp"
#include "identity/expiry_parse.hpp"
#include "json/reader.hpp"
#include "keyless/core/error.hpp"

namespace keyless::identity::detail {
namespace {

namespace ondemand = simdjson::ondemand;
using std::chrono::seconds;
using time_point = std::chrono::system_clock::time_point;

// One expiry-related field as it appeared in the body. Only the shape is
// kept, so messages can say what was wrong without quoting anything.
struct raw_field {
  enum class kind { absent, null, integer, other_number, string, other } type = kind::absent;
  std::uint64_t integer = 0;
  std::string text;
};

raw_field capture_expiry_field(ondemand::value value) {
  raw_field out;
  ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    out.type = raw_field::kind::other;
    return out;
  }
  switch (type) {
    case ondemand::json_type::number:
      // get_uint64 refuses fractions, exponents and signs: 1.5, 3600.0 and
      // -1 are not whole, unsigned numbers of seconds.
      out.type = value.get_uint64().get(out.integer) == simdjson::SUCCESS
                     ? raw_field::kind::integer
                     : raw_field::kind::other_number;
      break;
    case ondemand::json_type::string: {
      std::string_view text;
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        out.type = raw_field::kind::string;
        out.text.assign(text);
      } else {
        out.type = raw_field::kind::other;
      }
      break;
    }
    case ondemand::json_type::null:
      out.type = raw_field::kind::null;
      break;
    default:
      out.type = raw_field::kind::other;
      break;
  }
  return out;
}

// A relative lifetime in seconds (expires_in, refresh_in).
std::optional<std::uint64_t> relative_seconds(const raw_field& f) {
  if (f.type == raw_field::kind::integer && f.integer <= max_relative_seconds) return f.integer;
  if (f.type == raw_field::kind::string) return parse_exact_decimal(f.text, max_relative_seconds);
  return std::nullopt;
}

std::optional<sys_seconds> absolute_time(const raw_field& f) {
  if (f.type == raw_field::kind::integer && f.integer <= max_epoch_seconds) {
    return sys_seconds{seconds{static_cast<seconds::rep>(f.integer)}};
  }
  if (f.type == raw_field::kind::string) return parse_expires_on_text(f.text);
  return std::nullopt;
}

std::string quote_name(std::string_view name) {
  std::string out = "'";
  out.append(name).append("'");
  return out;
}

access_token parse_padded(simdjson::padded_string_view body, const keyless::clock& clock,
                          const token_response_options& options) {
  const std::string_view context = options.context;
  ondemand::parser parser;
  auto document = json::parse(parser, body, context);
  auto object = json::root_object(document, context);

  std::optional<std::string> token;
  raw_field expires_in, expires_on, refresh_in;
  for (auto field : object) {
    std::string_view key;
    ondemand::value value;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      json::throw_malformed(context, "the body is not valid JSON");
    }
    if (key == "access_token") {
      bool null = false;
      if (value.is_null().get(null) == simdjson::SUCCESS && null) {
        token.reset();
      } else {
        token = json::read_string(value, context, "access_token");
      }
    } else if (key == "expires_in") {
      expires_in = capture_expiry_field(value);
    } else if (key == "expires_on") {
      expires_on = capture_expiry_field(value);
    } else if (key == "refresh_in") {
      refresh_in = capture_expiry_field(value);
    }
  }
  json::expect_end(document, context);

  if (!token) json::throw_malformed(context, "'access_token' is missing");
  if (token->empty()) json::throw_malformed(context, "'access_token' is empty");

  const time_point now = clock.now();
  time_point expires{};
  if (auto lifetime = relative_seconds(expires_in)) {
    expires = add_seconds(now, *lifetime);
  } else if (auto at = absolute_time(expires_on)) {
    expires = to_time_point(*at);
  } else if (expires_on.type != raw_field::kind::absent) {
    json::throw_malformed(context, quote_name("expires_on") +
                                       " is not an epoch number or a date-time keyless recognises");
  } else if (expires_in.type != raw_field::kind::absent) {
    json::throw_malformed(
        context, quote_name("expires_in") + " is not a whole, non-negative number of seconds");
  } else {
    json::throw_malformed(context, "neither 'expires_in' nor 'expires_on' is present");
  }

  time_point refresh = expires;
  if (auto hint = relative_seconds(refresh_in)) {
    // The service's own hint wins over the half-life rule. A hint past the
    // expiry would leave no refresh window at all, so it is capped.
    refresh = std::min(add_seconds(now, *hint), expires);
  } else if (options.half_life_refresh && expires > now) {
    const auto lifetime = std::chrono::duration_cast<seconds>(expires - now);
    if (lifetime >= std::chrono::hours(2)) refresh = now + seconds(lifetime.count() / 2);
  }
  return access_token(std::move(*token), expires, refresh);
}

bool credential_alphabet(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '+' || c == '=';
}

// Services quote what they were sent ("the assertion eyJ... is invalid"), and a
// description is shown to people: every run of 32 or more token or secret characters
// (JWTs, client secrets, keys) becomes <redacted>, except GUIDs (client, tenant and trace
// ids), which are what a reader needs. Words, host names and AADSTS codes are shorter;
// '/' ends a run so URLs and resource ids keep their segments.
std::string redact_credentials(std::string_view text) {
  constexpr std::size_t longest_kept = 31;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!credential_alphabet(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && credential_alphabet(text[end])) ++end;
    const std::string_view run = text.substr(i, end - i);
    out.append(run.size() <= longest_kept || keyless::detail::guid_shaped(run) ? run
                                                                               : "<redacted>");
    i = end;
  }
  return out;
}

bool get_text(ondemand::value value, std::string& out) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return false;
  out.assign(text);
  return true;
}

}  // namespace

access_token parse_token_response(std::string& body, const keyless::clock& clock,
                                  const token_response_options& options) {
  return parse_padded(json::padded(body), clock, options);
}

namespace {

std::string utc_text(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point::min()) return "the beginning of time";
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "?";
  char text[32];
  if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "?";
  return text;
}

}  // namespace

void require_unexpired(const access_token& token, const keyless::clock& clock,
                       std::string_view context) {
  const auto now = clock.now();
  if (token.expires_on() > now) return;
  diagnostics d;
  d.hint =
      "a token that is already expired cannot be used; if expires_on lies in the past, check "
      "that this machine's clock is right (e.g. timedatectl / NTP)";
  throw keyless::error(errc::malformed_response,
                       fmt::format("{}: the token has already expired (it expires {}, and it is "
                                   "now {})",
                                   context, utc_text(token.expires_on()), utc_text(now)),
                       std::move(d));
}

access_token parse_token_response(std::string_view body, const keyless::clock& clock,
                                  const token_response_options& options) {
  json::padded_buffer copy(body);
  return parse_padded(copy.padded(), clock, options);
}

std::optional<std::string> find_aadsts_code(std::string_view text) {
  for (auto at = text.find("AADSTS"); at != std::string_view::npos;
       at = text.find("AADSTS", at + 1)) {
    std::size_t end = at + 6;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end > at + 6) return std::string(text.substr(at, end - at));
  }
  return std::nullopt;
}

std::optional<service_error> parse_service_error(std::string_view body) {
  json::padded_buffer copy(body);
  ondemand::parser parser;
  ondemand::document document;
  ondemand::object object;
  if (parser.iterate(copy.padded()).get(document) != simdjson::SUCCESS ||
      document.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  service_error out;
  std::string description;
  std::optional<std::uint64_t> first_code;
  bool found = false;
  for (auto field : object) {
    std::string_view key;
    ondemand::value value;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    if (key == "error") {
      ondemand::json_type type;
      if (value.type().get(type) != simdjson::SUCCESS) return std::nullopt;
      if (type == ondemand::json_type::string) {
        found = get_text(value, out.error) || found;
      } else if (type == ondemand::json_type::object) {
        ondemand::object inner;
        if (value.get_object().get(inner) != simdjson::SUCCESS) return std::nullopt;
        for (auto inner_field : inner) {
          std::string_view inner_key;
          ondemand::value inner_value;
          if (inner_field.unescaped_key().get(inner_key) != simdjson::SUCCESS ||
              inner_field.value().get(inner_value) != simdjson::SUCCESS) {
            return std::nullopt;
          }
          if (inner_key == "code") {
            found = get_text(inner_value, out.error) || found;
          } else if (inner_key == "message") {
            found = get_text(inner_value, description) || found;
          }
        }
      }
    } else if (key == "error_description" || key == "message" || key == "Message") {
      // error_description is the OAuth field; the others come from App
      // Service and Azure Arc bodies that have no wrapper. The OAuth field
      // wins when both appear.
      std::string text;
      if (get_text(value, text) && (description.empty() || key == "error_description")) {
        description = std::move(text);
        found = true;
      }
    } else if (key == "error_codes") {
      ondemand::array codes;
      if (value.get_array().get(codes) == simdjson::SUCCESS) {
        for (auto code : codes) {
          std::uint64_t number = 0;
          if (!first_code && code.get_uint64().get(number) == simdjson::SUCCESS) {
            first_code = number;
          }
        }
      }
    } else if (key == "trace_id") {
      get_text(value, out.trace_id);
    } else if (key == "correlation_id") {
      get_text(value, out.correlation_id);
    }
  }
  if (!found) return std::nullopt;
  out.description = keyless::detail::first_line(redact_credentials(description));
  out.trace_id = keyless::detail::first_line(out.trace_id, 64);
  out.correlation_id = keyless::detail::first_line(out.correlation_id, 64);
  out.error = keyless::detail::first_line(out.error, 100);
  if (first_code) {
    out.service_code = "AADSTS" + std::to_string(*first_code);
  } else if (auto code = find_aadsts_code(description)) {
    out.service_code = *code;
  } else {
    out.service_code = out.error;
  }
  return out;
}

}  // namespace keyless::identity::detail
