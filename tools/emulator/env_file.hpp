#pragma once
// The environment file keyless-emulator writes: `export NAME='value'` lines a POSIX shell can
// source, plus `unset` lines for variables that would steer the credential chain elsewhere.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyless::emulator {

/// `value` as one single-quoted sh word: every character is literal, and a single quote is
/// written as '\''.
std::string shell_quote(std::string_view value);

/// One line of the file.
struct env_entry {
  enum class kind { comment, set, unset, prepend_list };
  kind what = kind::set;
  std::string name;   ///< variable (set, unset, prepend_list) or the comment text
  std::string value;  ///< set: the value; prepend_list: the item put in front of the list
};

/// The text of the file. Names must be valid sh identifiers (std::invalid_argument otherwise).
std::string render_env_file(const std::vector<env_entry>& entries);

/// Writes `text` to `path` with mode 0600, atomically (a temporary file in the same directory,
/// then rename), so a reader never sees half a file. Throws std::runtime_error naming the path.
void write_private_file(const std::filesystem::path& path, std::string_view text);

}  // namespace keyless::emulator
