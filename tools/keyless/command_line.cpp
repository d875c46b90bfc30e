#include "command_line.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace keyless::cli {

std::optional<std::string> parsed_arguments::value(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string parsed_arguments::value_or(std::string_view name, std::string fallback) const {
  auto v = value(name);
  return v ? std::move(*v) : std::move(fallback);
}

std::optional<long long> parsed_arguments::number(std::string_view name, long long min,
                                                  long long max) const {
  const auto text = value(name);
  if (!text) return std::nullopt;
  long long parsed = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, parsed);
  if (ec != std::errc{} || ptr != end || parsed < min || parsed > max) {
    throw usage_error(
        fmt::format("--{} must be a whole number from {} to {}, not '{}'", name, min, max, *text));
  }
  return parsed;
}

bool parsed_arguments::flag(std::string_view name) const {
  return values_.contains(name);
}

parsed_arguments parse_arguments(std::span<const std::string> arguments,
                                 std::span<const option_spec> options) {
  parsed_arguments parsed;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view arg = arguments[i];
    if (arg == "--") {
      parsed.positional_.insert(parsed.positional_.end(), arguments.begin() + i + 1,
                                arguments.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      parsed.help_ = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      if (arg.size() > 1 && arg.starts_with('-')) {
        throw usage_error(fmt::format("unknown option '{}'", arg));
      }
      parsed.positional_.emplace_back(arg);
      continue;
    }
    const std::string_view body = arg.substr(2);
    const auto equals = body.find('=');
    const std::string_view name = body.substr(0, equals);
    const auto spec = std::find_if(options.begin(), options.end(),
                                   [&](const option_spec& o) { return o.name == name; });
    if (spec == options.end()) throw usage_error(fmt::format("unknown option '--{}'", name));
    if (spec->value_name.empty()) {
      if (equals != std::string_view::npos) {
        throw usage_error(fmt::format("option '--{}' takes no value", name));
      }
      parsed.values_.insert_or_assign(std::string(name), std::string());
      continue;
    }
    if (equals != std::string_view::npos) {
      parsed.values_.insert_or_assign(std::string(name), std::string(body.substr(equals + 1)));
    } else if (i + 1 < arguments.size()) {
      parsed.values_.insert_or_assign(std::string(name), arguments[++i]);
    } else {
      throw usage_error(fmt::format("option '--{}' needs a value ({})", name, spec->value_name));
    }
  }
  return parsed;
}

std::string format_help(std::string_view usage, std::string_view description,
                        std::span<const option_spec> options) {
  std::string text = fmt::format("usage: {}\n\n{}\n", usage, description);
  if (options.empty()) return text;
  std::size_t width = 0;
  for (const auto& o : options) width = std::max(width, o.name.size() + o.value_name.size() + 3);
  text += "\noptions:\n";
  for (const auto& o : options) {
    const std::string left = o.value_name.empty() ? fmt::format("--{}", o.name)
                                                  : fmt::format("--{} {}", o.name, o.value_name);
    text += fmt::format("  {:<{}}  {}\n", left, width, o.help);
  }
  text += fmt::format("  {:<{}}  {}\n", "--help", width, "show this help");
  return text;
}

}  // namespace keyless::cli
