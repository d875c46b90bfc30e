#pragma once
// Helpers shared by the HPACK tests: blocks written in hex as RFC 7541
// prints them, decoded fields and table entries as comparable values, and
// the keyless::error a call throws.

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_dynamic_table.hpp"
#include "keyless/core/error.hpp"

namespace hpack_test {

namespace h2 = keyless::http::h2;

// "8286 8441" -> the bytes 82 86 84 41; spaces are ignored.
inline std::string from_hex(std::string_view hex) {
  std::string bytes;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n') continue;
    int nibble = c <= '9' ? c - '0' : c - 'a' + 10;
    BOOST_REQUIRE_MESSAGE(nibble >= 0 && nibble < 16, "bad hex digit in test data");
    if (high < 0) {
      high = nibble;
    } else {
      bytes.push_back(static_cast<char>(high << 4 | nibble));
      high = -1;
    }
  }
  BOOST_REQUIRE_MESSAGE(high < 0, "odd number of hex digits in test data");
  return bytes;
}

inline std::string to_hex(std::string_view bytes) {
  std::string hex;
  for (char c : bytes) hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return hex;
}

struct field {
  std::string name;
  std::string value;
  bool never_indexed = false;
  bool operator==(const field&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const field& f) {
  return os << f.name << ": " << f.value << (f.never_indexed ? " (never indexed)" : "");
}

using field_list = std::vector<field>;

inline field_list decode_block(h2::decoder& decoder, std::string_view block) {
  field_list fields;
  decoder.decode(block, [&fields](const h2::decoded_field& f) {
    fields.push_back({std::string(f.name), std::string(f.value), f.never_indexed});
  });
  return fields;
}

// The table's entries, newest first, as "name: value".
inline std::vector<std::string> entries_of(const h2::dynamic_table& table) {
  std::vector<std::string> entries;
  for (std::size_t i = 0; i < table.count(); ++i) {
    entries.push_back(fmt::format("{}: {}", table[i].name, table[i].value));
  }
  return entries;
}

struct failure {
  bool thrown = false;
  keyless::errc code{};
  std::string message;
};

// What `fn` threw; thrown is false when it returned normally.
template <typename Fn>
failure failure_of(Fn&& fn) {
  try {
    fn();
  } catch (const keyless::error& e) {
    return {true, static_cast<keyless::errc>(e.code().value()), e.message()};
  }
  return {};
}

// The message a malformed block produces, checked to be malformed_response.
inline std::string malformed_message(h2::decoder& decoder, std::string_view block) {
  failure f = failure_of([&] { decode_block(decoder, block); });
  BOOST_TEST(f.thrown, "expected decoding " << to_hex(block) << " to fail");
  BOOST_TEST((f.code == keyless::errc::malformed_response), "error was: " << f.message);
  return f.message;
}

inline std::string malformed_message(std::string_view block) {
  h2::decoder decoder;
  return malformed_message(decoder, block);
}

}  // namespace hpack_test
