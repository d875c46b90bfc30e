#include <boost/test/unit_test.hpp>

#include "hpack_test_support.hpp"
#include "http/h2/hpack_huffman.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace huffman = keyless::http::h2::huffman;
using hpack_test::failure_of;
using hpack_test::from_hex;
using hpack_test::to_hex;

namespace {

// The strings RFC 7541 Appendix C Huffman-codes, with their codes.
const std::pair<std::string_view, std::string_view> rfc_strings[] = {
    {"www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"},
    {"no-cache", "a8eb 1064 9cbf"},
    {"custom-key", "25a8 49e9 5ba9 7d7f"},
    {"custom-value", "25a8 49e9 5bb8 e8b4 bf"},
    {"302", "6402"},
    {"307", "640e ff"},
    {"private", "aec3 771a 4b"},
    {"Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"},
    {"Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"},
    {"https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"},
    {"gzip", "9bd9 ab"},
    {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
     "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 "
     "03ed 4ee5 b106 3d50 07"},
};

std::string encoded(std::string_view text) {
  std::string out;
  huffman::encode(text, out);
  return out;
}

std::string decoded(std::string_view bytes) {
  std::string out;
  huffman::decode(bytes, out);
  return out;
}

// A slow decoder that follows RFC 7541 5.2 word by word, to check the
// table-driven one against. Returns nothing where decoding must fail.
std::optional<std::string> reference_decode(std::string_view bytes) {
  std::map<std::pair<int, std::uint32_t>, std::size_t> symbol_of;  // (length, bits) -> symbol
  const auto& table = huffman::code_table();
  for (std::size_t s = 0; s < table.size(); ++s) symbol_of[{table[s].length, table[s].bits}] = s;
  std::string out;
  std::uint32_t bits = 0;
  int length = 0;
  for (char c : bytes) {
    for (int i = 7; i >= 0; --i) {
      bits = bits << 1 | ((static_cast<unsigned char>(c) >> i) & 1);
      ++length;
      auto found = symbol_of.find({length, bits});
      if (found == symbol_of.end()) continue;
      if (found->second == huffman::eos_symbol) return std::nullopt;
      out.push_back(static_cast<char>(found->second));
      bits = 0;
      length = 0;
    }
  }
  bool all_ones = bits == (1u << length) - 1;
  if (length > 7 || !all_ones) return std::nullopt;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hpack)

BOOST_AUTO_TEST_CASE(huffman_code_is_a_complete_prefix_code) {
  const auto& table = huffman::code_table();
  // Kraft: the words use up the code space exactly, in units of 2^-30.
  std::uint64_t kraft_sum = 0;
  for (const auto& word : table) {
    BOOST_TEST(word.length >= 5);
    BOOST_TEST(word.length <= 30);
    BOOST_TEST(word.bits < (std::uint64_t{1} << word.length));
    kraft_sum += std::uint64_t{1} << (30 - word.length);
  }
  BOOST_TEST(kraft_sum == std::uint64_t{1} << 30);
  // No word is a prefix of another.
  for (std::size_t a = 0; a < table.size(); ++a) {
    for (std::size_t b = 0; b < table.size(); ++b) {
      if (a == b || table[a].length > table[b].length) continue;
      std::uint32_t prefix_of_b = table[b].bits >> (table[b].length - table[a].length);
      BOOST_TEST(prefix_of_b != table[a].bits, "symbol " << a << " is a prefix of " << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(huffman_code_matches_appendix_b) {
  const auto& table = huffman::code_table();
  auto check = [&](std::size_t symbol, std::uint32_t bits, int length) {
    BOOST_TEST(table[symbol].bits == bits, "symbol " << symbol);
    BOOST_TEST(table[symbol].length == length, "symbol " << symbol);
  };
  check(0, 0x1ff8, 13);
  check(10, 0x3ffffffc, 30);
  check(' ', 0x14, 6);
  check('0', 0x0, 5);
  check('a', 0x3, 5);
  check('t', 0x9, 5);
  check('~', 0x1ffd, 13);
  check(127, 0xffffffc, 28);
  check(128, 0xfffe6, 20);
  check(255, 0x3ffffee, 26);
  check(huffman::eos_symbol, 0x3fffffff, 30);
}

BOOST_AUTO_TEST_CASE(huffman_codes_the_rfc_strings_as_appendix_c_does) {
  for (const auto& [text, hex] : rfc_strings) {
    BOOST_TEST_CONTEXT(text) {
      std::string bytes = from_hex(hex);
      BOOST_TEST(huffman::encoded_size(text) == bytes.size());
      BOOST_TEST(to_hex(encoded(text)) == to_hex(bytes));
      BOOST_TEST(decoded(bytes) == text);
    }
  }
}

BOOST_AUTO_TEST_CASE(huffman_round_trips_every_byte_value) {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b));
    BOOST_TEST(decoded(encoded(one)) == one, "byte " << b);
    all += one;
  }
  BOOST_TEST(decoded(encoded(all)) == all);
  BOOST_TEST(huffman::encoded_size("") == 0u);
  BOOST_TEST(decoded("").empty());
}

BOOST_AUTO_TEST_CASE(huffman_round_trips_random_strings) {
  std::mt19937 rng(7541);  // fixed seed: a failure reproduces
  const std::string_view header_chars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:;=, ";
  for (int round = 0; round < 2000; ++round) {
    std::size_t length = rng() % 300;
    std::string text;
    bool binary = round % 2 == 0;
    for (std::size_t i = 0; i < length; ++i) {
      text.push_back(binary ? static_cast<char>(rng() % 256)
                            : header_chars[rng() % header_chars.size()]);
    }
    std::string bytes = encoded(text);
    BOOST_TEST_REQUIRE(bytes.size() == huffman::encoded_size(text));
    BOOST_TEST_REQUIRE(decoded(bytes) == text, "round " << round);
  }
}

BOOST_AUTO_TEST_CASE(huffman_decode_appends_to_what_the_string_holds) {
  std::string out = "x-";
  huffman::decode(from_hex("9bd9 ab"), out);
  BOOST_TEST(out == "x-gzip");
}

BOOST_AUTO_TEST_CASE(huffman_padding_of_up_to_7_one_bits_is_accepted) {
  BOOST_TEST(decoded(from_hex("1f")) == "a");      // 00011 + 111
  BOOST_TEST(decoded(from_hex("1b1f")) == "a/");   // 00011 011000 + 11111
  BOOST_TEST(decoded(from_hex("0001")) == "000");  // 00000 00000 00000 + 1
}

BOOST_AUTO_TEST_CASE(huffman_padding_longer_than_7_bits_is_rejected) {
  for (std::string_view hex : {"ff", "1fff", "ffff"}) {
    auto f = failure_of([&] { decoded(from_hex(hex)); });
    BOOST_TEST(f.thrown, hex);
    BOOST_TEST((f.code == keyless::errc::malformed_response));
    BOOST_TEST(f.message == "HPACK: Huffman-coded string has more than 7 bits of padding");
  }
}

BOOST_AUTO_TEST_CASE(huffman_padding_that_is_not_all_ones_is_rejected) {
  // 'a' then 110 (the start of a 7-bit code), 'a' then 000, '0' then 000.
  for (std::string_view hex : {"1e", "18", "00"}) {
    auto f = failure_of([&] { decoded(from_hex(hex)); });
    BOOST_TEST(f.thrown, hex);
    BOOST_TEST(f.message ==
               "HPACK: Huffman-coded string ends inside a code (padding must be all one bits)");
  }
}

BOOST_AUTO_TEST_CASE(huffman_eos_inside_a_string_is_rejected) {
  // EOS (30 ones) + 2 ones; 'a' + EOS + 5 ones; EOS + 'a' + 5 ones.
  for (std::string_view hex : {"ffff ffff", "1fff ffff ff", "ffff fffc 7f"}) {
    auto f = failure_of([&] { decoded(from_hex(hex)); });
    BOOST_TEST(f.thrown, hex);
    BOOST_TEST(f.message == "HPACK: Huffman-coded string contains the EOS symbol");
  }
}

BOOST_AUTO_TEST_CASE(huffman_decoder_agrees_with_a_bit_by_bit_reference_on_every_short_input) {
  // All 1- and 2-byte inputs: every acceptance and every rejection.
  for (std::uint32_t n = 0; n < 256 + 65536; ++n) {
    std::string bytes;
    if (n < 256) {
      bytes.push_back(static_cast<char>(n));
    } else {
      bytes.push_back(static_cast<char>((n - 256) >> 8));
      bytes.push_back(static_cast<char>(n - 256));
    }
    std::optional<std::string> expected = reference_decode(bytes);
    std::optional<std::string> actual;
    auto f = failure_of([&] { actual = decoded(bytes); });
    BOOST_TEST_REQUIRE(f.thrown == !expected.has_value(), "input " << to_hex(bytes));
    if (expected) BOOST_TEST_REQUIRE(*actual == *expected, "input " << to_hex(bytes));
  }
}

BOOST_AUTO_TEST_SUITE_END()
