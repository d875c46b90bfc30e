#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keyless::json {

/// What the writer does with string bytes that are not valid UTF-8.
enum class invalid_utf8 {
  /// Write U+FFFD for each maximal invalid subsequence (the WHATWG / Unicode
  /// "maximal subpart" rule). The default: text from outside the program (a
  /// prompt read from a file, a truncated buffer) should not fail a whole
  /// request over one bad byte, and JSON sent to a service must be UTF-8.
  replace,
  /// Throw keyless::error(errc::invalid_argument) instead.
  reject,
};

/// Builds compact JSON text (RFC 8259) into a std::string.
///
/// Strings are escaped completely: `"` and `\`, every control character
/// (`\n`, `\r`, `\t`, `\b`, `\f`, otherwise `\u00XX`), and invalid UTF-8 per the
/// chosen policy. Object keys are always checked strictly (invalid UTF-8 in a
/// key is a programming error and throws). Misuse — a value where a key is
/// expected, unbalanced end_object/end_array, a second top-level value,
/// NaN or infinity — throws keyless::error(errc::invalid_argument).
///
///     keyless::json::writer w;
///     w.begin_object().member("model", "gpt-4o").key("messages").begin_array();
///     ...
///     std::string body = w.release();
///
/// Thread-safety: one operation at a time (a plain value type).
class writer {
 public:
  explicit writer(invalid_utf8 policy = invalid_utf8::replace) : policy_(policy) {}

  writer& begin_object();
  writer& end_object();
  writer& begin_array();
  writer& end_array();

  /// The next member's name; must be followed by exactly one value.
  writer& key(std::string_view name);

  writer& value(std::string_view text);
  writer& value(const char* text) { return value(std::string_view(text)); }
  writer& value(const std::string& text) { return value(std::string_view(text)); }
  writer& value(bool b);
  writer& value(std::nullptr_t);
  writer& value(double number);
  /// Integers of any width and signedness (but not char types, which would be
  /// ambiguous between a number and a one-character string).
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, char8_t> &&
           !std::same_as<T, char16_t> && !std::same_as<T, char32_t> &&
           !std::same_as<T, wchar_t>) writer& value(T number) {
    if constexpr (std::is_signed_v<T>) {
      return write_signed(static_cast<std::int64_t>(number));
    } else {
      return write_unsigned(static_cast<std::uint64_t>(number));
    }
  }

  /// Inserts one complete, already-serialised JSON value (object, array,
  /// string, number, literal) as the next value: the escape hatch for fields
  /// keyless does not model. The text is validated; anything that is not
  /// exactly one well-formed JSON value throws errc::invalid_argument.
  writer& raw(std::string_view json_value);

  /// key(name) followed by value(v).
  template <typename T>
  writer& member(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  /// True once exactly one top-level value has been written completely.
  bool complete() const noexcept { return done_ && stack_.empty(); }

  /// The text so far (possibly incomplete).
  const std::string& str() const noexcept { return out_; }

  /// Moves the finished text out; throws errc::invalid_argument if the
  /// document is incomplete. The writer is empty afterwards.
  std::string release();

  void reserve(std::size_t bytes) { out_.reserve(bytes); }

 private:
  enum class kind : unsigned char { object_expect_key, object_expect_value, array };
  struct frame {
    kind state;
    bool empty;  // nothing written in this container yet (no comma needed)
  };

  writer& open(char bracket, kind state);
  void before_value();
  void after_value() noexcept;
  writer& write_signed(std::int64_t number);
  writer& write_unsigned(std::uint64_t number);

  std::string out_;
  std::vector<frame> stack_;
  bool done_ = false;
  invalid_utf8 policy_;
};

/// Appends `text` to `out` as a JSON string literal, quotes included.
/// Throws errc::invalid_argument on invalid UTF-8 when `policy` is reject.
void append_quoted(std::string& out, std::string_view text,
                   invalid_utf8 policy = invalid_utf8::replace);

/// `text` as a JSON string literal, quotes included.
std::string quoted(std::string_view text, invalid_utf8 policy = invalid_utf8::replace);

}  // namespace keyless::json
