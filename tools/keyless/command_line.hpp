#pragma once
// The keyless command's flag parser, shared by every subcommand: `--name value`, `--name=value`
// and boolean `--name`; anything else starting with `--` is an error naming it.

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace keyless::cli {

/// One flag a subcommand accepts.
struct option_spec {
  std::string_view name;        ///< without the leading "--"
  std::string_view value_name;  ///< empty: a boolean flag
  std::string_view help;
};

/// Bad command-line input; main() prints it with the subcommand's usage and exits 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The flags and positional arguments of one subcommand.
class parsed_arguments {
 public:
  /// The flag's last value, if given.
  std::optional<std::string> value(std::string_view name) const;
  /// value() or `fallback`.
  std::string value_or(std::string_view name, std::string fallback) const;
  /// value() as a whole number in [min, max]; usage_error naming the flag otherwise.
  std::optional<long long> number(std::string_view name, long long min, long long max) const;
  /// Whether a boolean flag was given.
  bool flag(std::string_view name) const;
  /// Whether --help or -h was given.
  bool help() const noexcept { return help_; }
  const std::vector<std::string>& positional() const noexcept { return positional_; }

 private:
  friend parsed_arguments parse_arguments(std::span<const std::string>,
                                          std::span<const option_spec>);
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

/// Parses `arguments` (after the subcommand's name) against `options`. "--" ends the flags.
/// Throws usage_error for an unknown flag, a missing value or a value given to a boolean flag.
parsed_arguments parse_arguments(std::span<const std::string> arguments,
                                 std::span<const option_spec> options);

/// "usage: <usage>\n\n<description>\n\noptions:\n  --name VALUE  help\n...".
std::string format_help(std::string_view usage, std::string_view description,
                        std::span<const option_spec> options);

}  // namespace keyless::cli
