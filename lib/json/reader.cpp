#include "json/reader.hpp"

#include "keyless/core/error.hpp"

namespace keyless::json {

namespace ondemand = simdjson::ondemand;

simdjson::padded_string_view padded(std::string& buffer) {
  if (buffer.capacity() - buffer.size() < simdjson::SIMDJSON_PADDING) {
    buffer.reserve(buffer.size() + simdjson::SIMDJSON_PADDING);
  }
  return simdjson::padded_string_view(buffer.data(), buffer.size(), buffer.capacity());
}

void throw_malformed(std::string_view context, std::string_view what) {
  std::string message;
  message.reserve(context.size() + what.size() + 2);
  message.append(context).append(": ").append(what);
  throw keyless::error(errc::malformed_response, message);
}

ondemand::document parse(ondemand::parser& parser, simdjson::padded_string_view json,
                         std::string_view context) {
  ondemand::document document;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    throw_malformed(context, "the body is empty");
  }
  if (parser.iterate(json).get(document) != simdjson::SUCCESS) {
    throw_malformed(context, "the body is not JSON");
  }
  return document;
}

ondemand::object root_object(ondemand::document& document, std::string_view context) {
  ondemand::object object;
  const auto error = document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) {
    // Starts with something well-formed but not '{': an array or a scalar.
    throw_malformed(context, "the body is not a JSON object");
  }
  if (error != simdjson::SUCCESS) throw_malformed(context, "the body is not valid JSON");
  return object;
}

void expect_end(ondemand::document& document, std::string_view context) {
  // current_location() reports OUT_OF_BOUNDS exactly when every token has
  // been consumed.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    throw_malformed(context, "the body has data after the JSON value");
  }
}

std::string_view describe(ondemand::json_type type) noexcept {
  switch (type) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "an unknown JSON type";
}

namespace {

std::string wrong_type(std::string_view field, std::string_view expected, ondemand::value& value) {
  ondemand::json_type type;
  std::string message = "'";
  message.append(field).append("' should be ").append(expected);
  if (value.type().get(type) == simdjson::SUCCESS) {
    message.append(" but is ").append(describe(type));
  } else {
    message.append(" but is not valid JSON");
  }
  return message;
}

// Found, absent, or a JSON error (broken document) while looking.
bool find(ondemand::object& object, std::string_view field, ondemand::value& value,
          std::string_view context) {
  const auto error = object.find_field_unordered(field).get(value);
  if (error == simdjson::NO_SUCH_FIELD) return false;
  if (error != simdjson::SUCCESS) throw_malformed(context, "the body is not valid JSON");
  return true;
}

bool is_null(ondemand::value& value) {
  bool null = false;
  return value.is_null().get(null) == simdjson::SUCCESS && null;
}

}  // namespace

std::string read_string(ondemand::value value, std::string_view context, std::string_view field) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    throw_malformed(context, wrong_type(field, "a string", value));
  }
  return std::string(text);
}

std::int64_t read_int(ondemand::value value, std::string_view context, std::string_view field) {
  std::int64_t number = 0;
  ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS || type != ondemand::json_type::number ||
      value.get_int64().get(number) != simdjson::SUCCESS) {
    throw_malformed(context, wrong_type(field, "an integer", value));
  }
  return number;
}

std::optional<std::string> optional_string(ondemand::object& object, std::string_view field,
                                           std::string_view context) {
  ondemand::value value;
  if (!find(object, field, value, context) || is_null(value)) return std::nullopt;
  return read_string(value, context, field);
}

std::optional<std::int64_t> optional_int(ondemand::object& object, std::string_view field,
                                         std::string_view context) {
  ondemand::value value;
  if (!find(object, field, value, context) || is_null(value)) return std::nullopt;
  return read_int(value, context, field);
}

std::string required_string(ondemand::object& object, std::string_view field,
                            std::string_view context) {
  auto text = optional_string(object, field, context);
  if (!text) {
    std::string what = "'";
    what.append(field).append("' is missing");
    throw_malformed(context, what);
  }
  return std::move(*text);
}

}  // namespace keyless::json
