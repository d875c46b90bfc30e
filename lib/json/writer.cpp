#include "keyless/json/writer.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include <simdjson.h>

#include "keyless/core/error.hpp"

namespace keyless::json {
namespace {

template <typename Number>
void append_number(std::string& out, Number number) {
  std::array<char, 32> buffer{};  // fits any double, int64 or uint64
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number);
  out.append(buffer.data(), result.ptr);
}

[[noreturn]] void misuse(const char* what) {
  throw keyless::error(errc::invalid_argument, std::string("json::writer: ") + what);
}

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

// Bytes that can be copied to the output unchanged in a run.
constexpr bool plain_ascii(unsigned char c) noexcept {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void append_control(std::string& out, unsigned char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default:
      break;
  }
  static constexpr char hex[] = "0123456789abcdef";
  const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
  out.append(escaped, sizeof escaped);
}

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if it is
// not well formed; `bad` then receives the length of the maximal subpart to
// replace (always >= 1). Follows Unicode Table 3-7: no overlongs, no
// surrogates (ED A0..BF), nothing above U+10FFFF.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::size_t& bad) noexcept {
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (i + k >= text.size()) {
      bad = k;
      return 0;
    }
    const unsigned char c = byte(i + k);
    const unsigned char lo = k == 1 ? low : 0x80;
    const unsigned char hi = k == 1 ? high : 0xBF;
    if (c < lo || c > hi) {
      bad = k;
      return 0;
    }
  }
  return length;
}

bool valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const std::size_t length = utf8_sequence(text, i, bad);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void validate_raw(std::string_view text) {
  // DOM parsing validates the whole text, which On-Demand does not; raw()
  // is a rare escape hatch, so the extra allocation is fine.
  simdjson::padded_string copy(text);
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(copy).get(element) != simdjson::SUCCESS) {
    misuse("raw() was given text that is not exactly one well-formed JSON value");
  }
}

}  // namespace

void append_quoted(std::string& out, std::string_view text, invalid_utf8 policy) {
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t run = i;
    while (run < text.size() && plain_ascii(static_cast<unsigned char>(text[run]))) ++run;
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      append_control(out, c);
      ++i;
    } else {
      std::size_t bad = 0;
      if (const std::size_t length = utf8_sequence(text, i, bad)) {
        out.append(text.data() + i, length);
        i += length;
      } else {
        if (policy == invalid_utf8::reject) {
          throw keyless::error(errc::invalid_argument,
                               "json::writer: string is not valid UTF-8 (bad byte at offset " +
                                   std::to_string(i) + ")");
        }
        out.append(replacement_character);
        i += bad;
      }
    }
  }
  out.push_back('"');
}

std::string quoted(std::string_view text, invalid_utf8 policy) {
  std::string out;
  append_quoted(out, text, policy);
  return out;
}

void writer::before_value() {
  if (stack_.empty()) {
    if (done_) misuse("a second top-level value was written");
    return;
  }
  frame& top = stack_.back();
  switch (top.state) {
    case kind::object_expect_key:
      misuse("a value was written where an object key is expected");
    case kind::object_expect_value:
      top.state = kind::object_expect_key;
      return;
    case kind::array:
      if (!top.empty) out_.push_back(',');
      top.empty = false;
      return;
  }
}

void writer::after_value() noexcept {
  if (stack_.empty()) done_ = true;
}

writer& writer::open(char bracket, kind state) {
  before_value();
  out_.push_back(bracket);
  // Documents nest a few levels: one allocation for the stack instead of one per new depth.
  if (stack_.capacity() == 0) stack_.reserve(8);
  stack_.push_back({state, true});
  return *this;
}

writer& writer::begin_object() {
  return open('{', kind::object_expect_key);
}

writer& writer::end_object() {
  if (stack_.empty() || stack_.back().state == kind::array) {
    misuse("end_object() without a matching begin_object()");
  }
  if (stack_.back().state == kind::object_expect_value)
    misuse("end_object() after a key without a value");
  stack_.pop_back();
  out_.push_back('}');
  after_value();
  return *this;
}

writer& writer::begin_array() {
  return open('[', kind::array);
}

writer& writer::end_array() {
  if (stack_.empty() || stack_.back().state != kind::array) {
    misuse("end_array() without a matching begin_array()");
  }
  stack_.pop_back();
  out_.push_back(']');
  after_value();
  return *this;
}

writer& writer::key(std::string_view name) {
  if (stack_.empty() || stack_.back().state != kind::object_expect_key) {
    misuse("key() outside an object or where a value is expected");
  }
  // Checked before anything is written, so a throw leaves the writer usable.
  if (!valid_utf8(name)) misuse("object key is not valid UTF-8");
  frame& top = stack_.back();
  if (!top.empty) out_.push_back(',');
  top.empty = false;
  append_quoted(out_, name, invalid_utf8::reject);
  out_.push_back(':');
  top.state = kind::object_expect_value;
  return *this;
}

writer& writer::value(std::string_view text) {
  if (policy_ == invalid_utf8::reject && !valid_utf8(text)) {
    misuse("string is not valid UTF-8");
  }
  before_value();
  append_quoted(out_, text, policy_);
  after_value();
  return *this;
}

writer& writer::value(bool b) {
  before_value();
  out_ += b ? "true" : "false";
  after_value();
  return *this;
}

writer& writer::value(std::nullptr_t) {
  before_value();
  out_ += "null";
  after_value();
  return *this;
}

writer& writer::value(double number) {
  if (!std::isfinite(number)) misuse("JSON has no NaN or infinity");
  before_value();
  append_number(out_, number);  // shortest text that reads back as the same double
  after_value();
  return *this;
}

writer& writer::write_signed(std::int64_t number) {
  before_value();
  append_number(out_, number);
  after_value();
  return *this;
}

writer& writer::write_unsigned(std::uint64_t number) {
  before_value();
  append_number(out_, number);
  after_value();
  return *this;
}

writer& writer::raw(std::string_view json_value) {
  validate_raw(json_value);
  before_value();
  // Trim surrounding whitespace so the output stays compact.
  constexpr std::string_view space = " \t\r\n";
  const auto begin = json_value.find_first_not_of(space);
  const auto end = json_value.find_last_not_of(space);
  out_.append(json_value.substr(begin, end - begin + 1));
  after_value();
  return *this;
}

std::string writer::release() {
  if (!complete()) misuse("release() before the document is complete");
  std::string result = std::move(out_);
  out_.clear();
  done_ = false;
  return result;
}

}  // namespace keyless::json
