#include "identity/cli_output.hpp"

#include <optional>

#include "identity/expiry_parse.hpp"
#include "json/reader.hpp"

namespace keyless::identity::detail {
namespace {

namespace ondemand = simdjson::ondemand;
using std::chrono::seconds;

constexpr std::string_view az_context = "az output";
constexpr std::string_view azd_context = "azd output";

// A field read as text whatever its JSON type, so the expiry logic can say
// precisely what was wrong.
struct field {
  bool present = false;
  bool is_string = false;
  bool is_integer = false;
  std::uint64_t integer = 0;
  std::string text;
};

field capture_cli_field(ondemand::value value) {
  field out;
  out.present = true;
  ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return out;
  if (type == ondemand::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      out.is_string = true;
      out.text.assign(text);
    }
  } else if (type == ondemand::json_type::number) {
    out.is_integer = value.get_uint64().get(out.integer) == simdjson::SUCCESS;
  } else if (type == ondemand::json_type::null) {
    out.present = false;  // null means "not given"
  }
  return out;
}

struct cli_fields {
  std::optional<std::string> token;
  field expires_on;       // az (newer): epoch seconds
  field expires_on_text;  // az: local time; azd: RFC 3339
};

cli_fields read_fields(std::string& out, std::string_view context, std::string_view token_name) {
  ondemand::parser parser;
  auto document = json::parse(parser, json::padded(out), context);
  auto object = json::root_object(document, context);
  cli_fields fields;
  for (auto member : object) {
    std::string_view key;
    ondemand::value value;
    if (member.unescaped_key().get(key) != simdjson::SUCCESS ||
        member.value().get(value) != simdjson::SUCCESS) {
      json::throw_malformed(context, "the output is not valid JSON");
    }
    if (key == token_name) {
      fields.token = json::read_string(value, context, token_name);
    } else if (key == "expires_on") {
      fields.expires_on = capture_cli_field(value);
    } else if (key == "expiresOn") {
      fields.expires_on_text = capture_cli_field(value);
    }
  }
  json::expect_end(document, context);
  if (!fields.token) {
    json::throw_malformed(context, std::string("'") + std::string(token_name) + "' is missing");
  }
  if (fields.token->empty()) {
    json::throw_malformed(context, std::string("'") + std::string(token_name) + "' is empty");
  }
  return fields;
}

}  // namespace

access_token parse_az_output(std::string& out) {
  auto fields = read_fields(out, az_context, "accessToken");
  std::optional<sys_seconds> expires;
  if (fields.expires_on.present) {
    // The epoch form is preferred: it has no time zone to get wrong.
    if (fields.expires_on.is_integer && fields.expires_on.integer <= max_epoch_seconds) {
      expires = sys_seconds{seconds{static_cast<seconds::rep>(fields.expires_on.integer)}};
    } else if (fields.expires_on.is_string) {
      if (auto epoch = parse_exact_decimal(fields.expires_on.text, max_epoch_seconds)) {
        expires = sys_seconds{seconds{static_cast<seconds::rep>(*epoch)}};
      }
    }
    if (!expires && !fields.expires_on_text.present) {
      json::throw_malformed(az_context, "'expires_on' is not an epoch time in seconds");
    }
  }
  if (!expires) {
    if (!fields.expires_on_text.present) {
      json::throw_malformed(az_context, "neither 'expires_on' nor 'expiresOn' is present");
    }
    if (fields.expires_on_text.is_string) expires = parse_local_time(fields.expires_on_text.text);
    if (!expires) {
      json::throw_malformed(az_context,
                            "'expiresOn' is not a local time like \"2023-10-31 21:59:10.000000\"");
    }
  }
  return access_token(std::move(*fields.token), to_time_point(*expires));
}

access_token parse_azd_output(std::string& out) {
  auto fields = read_fields(out, azd_context, "token");
  if (!fields.expires_on_text.present) json::throw_malformed(azd_context, "'expiresOn' is missing");
  std::optional<sys_seconds> expires;
  if (fields.expires_on_text.is_string) expires = parse_rfc3339(fields.expires_on_text.text);
  if (!expires) {
    json::throw_malformed(azd_context,
                          "'expiresOn' is not an RFC 3339 time like \"2024-01-01T00:00:00Z\"");
  }
  return access_token(std::move(*fields.token), to_time_point(*expires));
}

}  // namespace keyless::identity::detail
