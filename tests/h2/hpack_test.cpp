// HPACK pieces and rules: integers, the static and dynamic tables, the
// encoder's choices and size updates, the decoder's rejections and limits,
// and encoder/decoder pairs kept in step over many blocks.
// (Huffman: hpack_huffman_test.cpp; RFC 7541 Appendix C: hpack_rfc_examples_test.cpp.)

#include <boost/test/unit_test.hpp>

#include "hpack_test_support.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_dynamic_table.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/hpack_integer.hpp"
#include "http/h2/hpack_static_table.hpp"
#include "keyless/http/fields.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace h2 = keyless::http::h2;
using hpack_test::decode_block;
using hpack_test::entries_of;
using hpack_test::failure_of;
using hpack_test::field;
using hpack_test::field_list;
using hpack_test::from_hex;
using hpack_test::malformed_message;
using hpack_test::to_hex;

namespace {

std::string integer_bytes(std::uint8_t flags, int prefix_bits, std::uint64_t value) {
  std::string out;
  h2::append_integer(out, flags, prefix_bits, value);
  return out;
}

std::string integer_error(std::string_view bytes, int prefix_bits) {
  std::size_t pos = 0;
  auto f = failure_of([&] { h2::read_integer(bytes, pos, prefix_bits); });
  BOOST_TEST(f.thrown, "expected " << to_hex(bytes) << " to be rejected");
  BOOST_TEST((f.code == keyless::errc::malformed_response));
  return f.message;
}

// A token as Entra issues them: base64url text of the given length.
std::string fake_token(std::size_t length, std::mt19937& rng) {
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "Bearer ";
  while (token.size() < length) token.push_back(alphabet[rng() % alphabet.size()]);
  return token;
}

// The fields keyless sends to Azure OpenAI, with how each is indexed.
struct request_field {
  std::string name;
  std::string value;
  h2::indexing how;
};

std::vector<request_field> chat_request(std::mt19937& rng, const std::string& token) {
  std::vector<request_field> fields = {
      {":method", "POST", h2::indexing::incremental},
      {":scheme", "https", h2::indexing::incremental},
      {":authority", "my-resource.openai.azure.com", h2::indexing::incremental},
      {":path", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
       h2::indexing::incremental},
      {"authorization", token, h2::indexing::incremental},
      {"content-type", "application/json", h2::indexing::incremental},
      {"content-length", std::to_string(200 + rng() % 5000), h2::indexing::without},
      {"x-ms-client-request-id", fmt::format("{:08x}-4a1b-8c2d-{:012x}", rng(), rng()),
       h2::indexing::without},
      {"user-agent", "keyless/0.1.0", h2::indexing::incremental},
  };
  if (rng() % 4 == 0)
    fields.push_back({"cookie", "session=" + std::to_string(rng()), h2::indexing::never});
  if (rng() % 3 == 0) {
    fields.push_back({fmt::format("x-custom-{}", rng() % 20), std::string(rng() % 80, 'v'),
                      h2::indexing::incremental});
  }
  return fields;
}

std::string encode_request(h2::encoder& encoder, const std::vector<request_field>& fields) {
  std::string out;
  encoder.begin_block(out);
  for (const auto& f : fields) encoder.encode(out, f.name, f.value, f.how);
  return out;
}

field_list expected_fields(const std::vector<request_field>& fields) {
  field_list out;
  for (const auto& f : fields) out.push_back({f.name, f.value, f.how == h2::indexing::never});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hpack)

// --- integers (RFC 7541 5.1) ---

BOOST_AUTO_TEST_CASE(integer_examples_of_rfc_c1) {
  BOOST_TEST(to_hex(integer_bytes(0, 5, 10)) == "0a");        // C.1.1
  BOOST_TEST(to_hex(integer_bytes(0, 5, 1337)) == "1f9a0a");  // C.1.2
  BOOST_TEST(to_hex(integer_bytes(0, 8, 42)) == "2a");        // C.1.3
  BOOST_TEST(to_hex(integer_bytes(0xe0, 5, 10)) == "ea");     // flags kept above the prefix
  std::string bytes = from_hex("ff9a0a");                     // 1337, 5-bit prefix, flags 111
  std::size_t pos = 0;
  BOOST_TEST(h2::read_integer(bytes, pos, 5) == 1337u);
  BOOST_TEST(pos == 3u);
}

BOOST_AUTO_TEST_CASE(integer_round_trips_at_every_boundary_and_prefix) {
  for (int prefix = 1; prefix <= 8; ++prefix) {
    const std::uint64_t prefix_max = (1u << prefix) - 1;
    std::vector<std::uint64_t> values = {0,
                                         prefix_max - 1,
                                         prefix_max,
                                         prefix_max + 1,
                                         prefix_max + 127,
                                         prefix_max + 128,
                                         prefix_max + 16383,
                                         prefix_max + 16384,
                                         4096,
                                         65536,
                                         h2::max_hpack_integer};
    for (std::uint64_t value : values) {
      BOOST_TEST_CONTEXT("prefix " << prefix << " value " << value) {
        const auto flags = static_cast<std::uint8_t>(0xff00u >> (8 - prefix));  // ones above
        std::string bytes = integer_bytes(flags, prefix, value) + "tail";
        BOOST_TEST((static_cast<unsigned char>(bytes[0]) & ~prefix_max) == flags);
        std::size_t pos = 0;
        BOOST_TEST(h2::read_integer(bytes, pos, prefix) == value);
        BOOST_TEST(bytes.substr(pos) == "tail");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(integer_larger_than_32_bits_is_rejected) {
  std::string too_large = integer_bytes(0, 5, std::uint64_t{h2::max_hpack_integer} + 1);
  BOOST_TEST(integer_error(too_large, 5) == "HPACK: integer is larger than 2^32 - 1");
  BOOST_TEST(integer_error(from_hex("1f ff ff ff ff 7f"), 5) ==
             "HPACK: integer is larger than 2^32 - 1");
}

BOOST_AUTO_TEST_CASE(integer_with_more_than_five_continuation_bytes_is_rejected) {
  // Zero padding keeps the value small; five continuation bytes are allowed.
  std::size_t pos = 0;
  BOOST_TEST(h2::read_integer(from_hex("1f 80 80 80 80 00"), pos, 5) == 31u);
  BOOST_TEST(integer_error(from_hex("1f 80 80 80 80 80 00"), 5) ==
             "HPACK: integer has more than 5 continuation bytes");
  BOOST_TEST(integer_error(from_hex("1f 80 80 80 80 80 80 80 80 80 80"), 5) ==
             "HPACK: integer has more than 5 continuation bytes");
}

BOOST_AUTO_TEST_CASE(integer_cut_short_is_rejected) {
  BOOST_TEST(integer_error("", 5) == "HPACK: block ends where an integer should start");
  BOOST_TEST(integer_error(from_hex("1f"), 5) == "HPACK: block ends inside an integer");
  BOOST_TEST(integer_error(from_hex("1f9a"), 5) == "HPACK: block ends inside an integer");
}

// --- static table (Appendix A) ---

BOOST_AUTO_TEST_CASE(static_table_holds_appendix_a) {
  BOOST_TEST(h2::static_table_size == 61u);
  BOOST_TEST(h2::static_entry(1).name == ":authority");
  BOOST_TEST(h2::static_entry(2).value == "GET");
  BOOST_TEST(h2::static_entry(8).value == "200");
  BOOST_TEST(h2::static_entry(16).value == "gzip, deflate");
  BOOST_TEST(h2::static_entry(23).name == "authorization");
  BOOST_TEST(h2::static_entry(61).name == "www-authenticate");
}

BOOST_AUTO_TEST_CASE(find_static_finds_every_entry_and_the_first_of_each_name) {
  for (std::size_t i = 1; i <= h2::static_table_size; ++i) {
    const h2::header_field& entry = h2::static_entry(i);
    h2::table_match match = h2::find_static(entry.name, entry.value);
    BOOST_TEST(match.full == i, entry.name << ": " << entry.value);
    std::size_t first = i;
    while (first > 1 && h2::static_entry(first - 1).name == entry.name) --first;
    BOOST_TEST(match.name == first, entry.name);
  }
  BOOST_TEST(h2::find_static(":status", "418").full == 0u);
  BOOST_TEST(h2::find_static(":status", "418").name == 8u);
  BOOST_TEST(h2::find_static("authorization", "Bearer x").name == 23u);
  BOOST_TEST(h2::find_static("x-ms-client-request-id", "1").name == 0u);
  BOOST_TEST(h2::find_static("Authorization", "").name == 0u);  // names are lower case
  BOOST_TEST(h2::find_static(std::string(200, 'a'), "").name == 0u);
}

// --- dynamic table (2.3.2, 4) ---

BOOST_AUTO_TEST_CASE(dynamic_table_counts_32_bytes_per_entry_and_evicts_the_oldest) {
  h2::dynamic_table table(100);
  BOOST_TEST(table.insert("a", "1"));   // 34
  BOOST_TEST(table.insert("b", "22"));  // 35
  BOOST_TEST(table.size() == 69u);
  BOOST_TEST(entries_of(table) == (std::vector<std::string>{"b: 22", "a: 1"}));
  BOOST_TEST(table.insert("c", "333"));  // 36: 105 > 100, so "a" goes
  BOOST_TEST(entries_of(table) == (std::vector<std::string>{"c: 333", "b: 22"}));
  BOOST_TEST(table.size() == 71u);
  BOOST_TEST(table.find("b", "22").full == 63u);
  BOOST_TEST(table.find("b", "other").name == 63u);
  BOOST_TEST(table.find("a", "1").name == 0u);
}

BOOST_AUTO_TEST_CASE(dynamic_table_shrinking_evicts_and_zero_empties_it) {
  h2::dynamic_table table(4096);
  for (int i = 0; i < 10; ++i) table.insert("name", std::to_string(i));  // 37 each
  BOOST_TEST(table.size() == 370u);
  table.set_max_size(100);
  BOOST_TEST(entries_of(table) == (std::vector<std::string>{"name: 9", "name: 8"}));
  BOOST_TEST(table.size() == 74u);
  table.set_max_size(0);
  BOOST_TEST(table.count() == 0u);
  BOOST_TEST(table.size() == 0u);
  BOOST_TEST(!table.insert("a", ""));  // nothing fits in 0 bytes
}

BOOST_AUTO_TEST_CASE(dynamic_table_entry_larger_than_the_table_empties_it) {
  h2::dynamic_table table(100);
  table.insert("a", "1");
  table.insert("b", "2");
  BOOST_TEST(!table.insert("big", std::string(66, 'x')));  // 101 bytes
  BOOST_TEST(table.count() == 0u);
  BOOST_TEST(table.size() == 0u);
  BOOST_TEST(table.insert("fits", std::string(64, 'x')));  // exactly 100 bytes
  BOOST_TEST(table.size() == 100u);
}

BOOST_AUTO_TEST_CASE(dynamic_table_insert_may_copy_the_name_of_an_entry_it_evicts) {
  h2::dynamic_table table(70);
  table.insert("a-rather-long-name", "first");  // 55: the only entry that fits
  h2::header_field oldest = table[0];
  BOOST_TEST(table.insert(oldest.name, "second"));
  BOOST_TEST(entries_of(table) == (std::vector<std::string>{"a-rather-long-name: second"}));
}

BOOST_AUTO_TEST_CASE(dynamic_table_keeps_order_as_its_ring_grows_and_wraps) {
  h2::dynamic_table table(40 * 34);
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    std::string value = fmt::format("{:02}", i % 100);
    table.insert("n", value);  // 35 bytes: the table holds 38 of them
    expected.insert(expected.begin(), "n: " + value);
    if (expected.size() > 38) expected.pop_back();
    BOOST_TEST_REQUIRE(entries_of(table) == expected, "after insert " << i);
  }
}

// --- encoder choices ---

BOOST_AUTO_TEST_CASE(encoder_prefers_full_matches_then_static_name_indexes) {
  h2::encoder encoder(4096, h2::huffman_use::never);
  std::string out;
  encoder.encode(out, ":method", "POST");                   // static full match: 3
  encoder.encode(out, "content-type", "application/json");  // static name 31, indexed
  encoder.encode(out, "content-type", "application/json");  // now dynamic 62
  encoder.encode(out, "content-type", "text/plain", h2::indexing::without);  // static name
  encoder.encode(out, "x-a", "1", h2::indexing::without);                    // new name, literal
  BOOST_TEST(to_hex(out) ==
             "83"
             "5f10" +
                 to_hex("application/json") +
                 "be"
                 "0f10"
                 "0a" +
                 to_hex("text/plain") +
                 "00"
                 "03" +
                 to_hex("x-a") +
                 "01"
                 "31");
  BOOST_TEST(encoder.table().count() == 1u);
}

BOOST_AUTO_TEST_CASE(encoder_huffman_codes_strings_only_when_not_longer) {
  h2::encoder encoder(4096);
  std::string out;
  encoder.encode(out, "x-bin", std::string("\xff\xfe", 2), h2::indexing::without);
  // "x-bin" Huffman-coded (4 bytes < 5); the two high bytes would take 7 and stay raw.
  BOOST_TEST(to_hex(out).substr(0, 4) == "0084");
  BOOST_TEST(to_hex(out).substr(to_hex(out).size() - 6) == "02fffe");
}

BOOST_AUTO_TEST_CASE(authorization_becomes_a_one_byte_index_from_the_second_block) {
  std::mt19937 rng(650);
  for (std::size_t token_size : {650u, 1500u, 2500u}) {
    BOOST_TEST_CONTEXT("token of " << token_size << " bytes") {
      const std::string token = fake_token(token_size, rng);
      h2::encoder encoder;
      h2::decoder decoder;
      std::string first;
      encoder.begin_block(first);
      encoder.encode(first, "authorization", token, h2::indexing::incremental);
      BOOST_TEST(first.size() > token_size / 2);  // the literal, Huffman-coded
      BOOST_TEST((decode_block(decoder, first) == field_list{{"authorization", token}}));

      std::string second;
      encoder.begin_block(second);
      encoder.encode(second, "authorization", token, h2::indexing::incremental);
      BOOST_TEST(to_hex(second) == "be");  // index 62
      BOOST_TEST((decode_block(decoder, second) == field_list{{"authorization", token}}));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_repeated_request_encodes_to_a_few_bytes) {
  std::mt19937 rng(8);
  const std::string token = fake_token(2000, rng);
  h2::encoder encoder;
  std::vector<request_field> fields = chat_request(rng, token);
  fields.resize(7);  // the fields that repeat, plus content-length
  encode_request(encoder, fields);
  std::string again = encode_request(encoder, fields);
  BOOST_TEST(again.size() <= 12u, to_hex(again));  // six indexes and content-length's literal
}

BOOST_AUTO_TEST_CASE(fields_sent_without_indexing_or_never_indexed_stay_out_of_both_tables) {
  for (h2::indexing how : {h2::indexing::without, h2::indexing::never}) {
    h2::encoder encoder;
    h2::decoder decoder;
    const std::vector<request_field> fields = {
        {"cookie", "secret=1", how},
        {"x-secret", "2", how},
        {"authorization", "", how},  // a static full match: indexed unless `never`
    };
    BOOST_TEST(decode_block(decoder, encode_request(encoder, fields)) == expected_fields(fields));
    BOOST_TEST(encoder.table().count() == 0u);
    BOOST_TEST(decoder.table().count() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_never_indexed_field_is_a_literal_even_when_the_table_holds_it) {
  h2::encoder encoder;
  h2::decoder decoder;
  const std::vector<request_field> fields = {
      {"x-secret", "2", h2::indexing::incremental},
      {"x-secret", "2", h2::indexing::never},
  };
  std::string block = encode_request(encoder, fields);
  BOOST_TEST(to_hex(block).substr(to_hex(block).size() - 8) ==
             "1f2f8117");  // name index 62, "2" Huffman-coded
  BOOST_TEST(decode_block(decoder, block) == expected_fields(fields));
  BOOST_TEST(decoder.table().count() == 1u);
}

BOOST_AUTO_TEST_CASE(a_field_too_large_for_the_table_is_sent_without_indexing) {
  h2::encoder encoder(256);
  h2::decoder decoder(256);
  std::string out;
  encoder.encode(out, "x-kept", "1");
  encoder.encode(out, "x-huge", std::string(300, 'h'));  // would empty the table
  BOOST_TEST(decode_block(decoder, out).size() == 2u);
  BOOST_TEST(entries_of(encoder.table()) == std::vector<std::string>{"x-kept: 1"});
  BOOST_TEST(entries_of(decoder.table()) == std::vector<std::string>{"x-kept: 1"});
}

// --- dynamic table size updates (4.2, 6.3) ---

BOOST_AUTO_TEST_CASE(encoder_starts_the_next_block_with_a_size_update) {
  h2::encoder encoder;
  h2::decoder decoder;
  std::string out;
  encoder.encode(out, "x-a", std::string(100, 'a'));
  decode_block(decoder, out);

  encoder.set_max_table_size(100);  // evicts x-a at once
  BOOST_TEST(encoder.table().count() == 0u);
  decoder.set_max_table_size(100);
  out.clear();
  encoder.begin_block(out);
  BOOST_TEST(to_hex(out) == "3f45");  // 100 = 31 + 69
  encoder.begin_block(out);           // only once
  BOOST_TEST(to_hex(out) == "3f45");
  decode_block(decoder, out);
  BOOST_TEST(decoder.table().max_size() == 100u);
  BOOST_TEST(decoder.table().count() == 0u);

  encoder.set_max_table_size(100);  // unchanged: nothing to signal
  out.clear();
  encoder.begin_block(out);
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(encoder_signals_the_smallest_size_then_the_final_one) {
  h2::encoder encoder;
  h2::decoder decoder;
  std::string out;
  encoder.encode(out, "x-a", "1");
  decode_block(decoder, out);

  encoder.set_max_table_size(1000);
  encoder.set_max_table_size(0);  // empties the table
  encoder.set_max_table_size(4096);
  decoder.set_max_table_size(4096);
  out.clear();
  encoder.begin_block(out);
  BOOST_TEST(to_hex(out) ==
             "20"
             "3fe11f");  // 0, then 4096
  encoder.encode(out, "x-a", "1");
  decode_block(decoder, out);
  BOOST_TEST(entries_of(decoder.table()) == entries_of(encoder.table()));
  BOOST_TEST(decoder.table().count() == 1u);  // the old x-a went, the new one came

  // Growing only: just the final size.
  encoder.set_max_table_size(8000);
  encoder.set_max_table_size(6000);
  out.clear();
  encoder.begin_block(out);
  BOOST_TEST(to_hex(out) == "3fd12e");  // 6000 = 31 + 5969
}

BOOST_AUTO_TEST_CASE(encode_emits_a_pending_size_update_when_begin_block_was_skipped) {
  h2::encoder encoder;
  encoder.set_max_table_size(0);
  std::string out;
  encoder.encode(out, ":method", "GET");
  BOOST_TEST(to_hex(out) == "2082");
}

BOOST_AUTO_TEST_CASE(size_update_above_the_limit_is_rejected) {
  h2::decoder decoder(4096);
  BOOST_TEST(malformed_message(decoder, from_hex("3fe21f")) ==  // 4097
             "HPACK: dynamic table size update to 4097 bytes is above our limit of 4096 bytes");
  h2::decoder lowered(4096);
  lowered.set_max_table_size(100);
  BOOST_TEST(malformed_message(lowered, from_hex("3f46")) ==  // 101
             "HPACK: dynamic table size update to 101 bytes is above our limit of 100 bytes");
}

BOOST_AUTO_TEST_CASE(size_update_after_a_field_is_rejected) {
  BOOST_TEST(malformed_message(from_hex("82 20")) ==
             "HPACK: dynamic table size update after the first field of a block");
}

BOOST_AUTO_TEST_CASE(more_than_two_size_updates_are_rejected) {
  h2::decoder decoder;
  BOOST_TEST(decode_block(decoder, from_hex("20 3fe11f 82")).size() == 1u);
  BOOST_TEST(malformed_message(from_hex("20 20 20 82")) ==
             "HPACK: more than two dynamic table size updates at the start of a block");
}

BOOST_AUTO_TEST_CASE(lowering_our_limit_requires_a_size_update_in_the_next_block) {
  h2::decoder decoder;
  decoder.set_max_table_size(100);
  const std::string expected =
      "HPACK: block does not start with the dynamic table size update that our lowered "
      "SETTINGS_HEADER_TABLE_SIZE requires";
  BOOST_TEST(malformed_message(decoder, from_hex("82")) == expected);
  h2::decoder empty_block;
  empty_block.set_max_table_size(100);
  BOOST_TEST(malformed_message(empty_block, "") == expected);

  h2::decoder confirmed;
  confirmed.set_max_table_size(100);
  BOOST_TEST(decode_block(confirmed, from_hex("3f45 82")).size() == 1u);
  BOOST_TEST(decode_block(confirmed, from_hex("82")).size() == 1u);  // required once only

  h2::decoder raised;  // a higher limit needs no update
  raised.set_max_table_size(8192);
  BOOST_TEST(decode_block(raised, from_hex("82")).size() == 1u);
}

// --- decoder rejections ---

BOOST_AUTO_TEST_CASE(index_zero_and_indexes_past_the_tables_are_rejected) {
  BOOST_TEST(malformed_message(from_hex("80")) == "HPACK: index 0 does not name a table entry");
  h2::decoder decoder;
  std::string four_entries;
  h2::encoder encoder;
  for (int i = 0; i < 4; ++i) encoder.encode(four_entries, "x-n", std::to_string(i));
  decode_block(decoder, four_entries);
  BOOST_TEST(
      (decode_block(decoder, from_hex("c1")) == field_list{{"x-n", "0"}}));  // 65: the oldest
  BOOST_TEST(malformed_message(decoder, from_hex("c6")) ==
             "HPACK: index 70 is past the end of the dynamic table (4 entries)");
  BOOST_TEST(malformed_message(from_hex("be")) ==
             "HPACK: index 62 is past the end of the dynamic table (0 entries)");
  BOOST_TEST(malformed_message(from_hex("7f00 0161")) ==  // literal naming index 63
             "HPACK: index 63 is past the end of the dynamic table (0 entries)");
  BOOST_TEST(malformed_message(from_hex("ff80ffffff0f")) ==
             "HPACK: index 4294967295 is past the end of the dynamic table (0 entries)");
}

BOOST_AUTO_TEST_CASE(names_that_http2_forbids_are_rejected) {
  auto literal = [](std::string_view name) {  // without indexing, new name, value "v"
    std::string block(1, '\0');
    block += static_cast<char>(name.size());
    return block + std::string(name) + "\x01v";
  };
  BOOST_TEST(malformed_message(literal("Content-Type")) ==
             "HPACK: header name has an upper-case letter (HTTP/2 requires lower case)");
  BOOST_TEST(malformed_message(literal("a b")) ==
             "HPACK: header name has the byte 0x20, not allowed in HTTP/2");
  BOOST_TEST(malformed_message(literal("a\x7f")) ==
             "HPACK: header name has the byte 0x7f, not allowed in HTTP/2");
  BOOST_TEST(malformed_message(literal("")) == "HPACK: header name is empty");
  // A Huffman-coded name is checked after decoding: 'A' is 100001.
  BOOST_TEST(malformed_message(from_hex("40 8187 0176")) ==
             "HPACK: header name has an upper-case letter (HTTP/2 requires lower case)");
  h2::decoder decoder;
  BOOST_TEST(decode_block(decoder, literal(":x-ok_~!#")).size() == 1u);
}

BOOST_AUTO_TEST_CASE(values_with_nul_cr_or_lf_are_rejected) {
  for (char bad : {'\0', '\r', '\n'}) {
    std::string block = from_hex("0f09 03");  // without indexing, name 24 (cache-control)
    block += "a";
    block += bad;
    block += "b";
    BOOST_TEST(malformed_message(block) == "HPACK: header value contains NUL, CR or LF");
  }
  h2::decoder decoder;
  std::string tabs = from_hex("0f09 03") + "\tx ";
  BOOST_TEST((decode_block(decoder, tabs) == field_list{{"cache-control", "\tx "}}));
}

BOOST_AUTO_TEST_CASE(bad_huffman_strings_in_a_block_are_rejected) {
  BOOST_TEST(malformed_message(from_hex("0f09 81ff")) ==
             "HPACK: Huffman-coded string has more than 7 bits of padding");
  BOOST_TEST(malformed_message(from_hex("0f09 84ff ffff ff")) ==
             "HPACK: Huffman-coded string contains the EOS symbol");
}

BOOST_AUTO_TEST_CASE(string_longer_than_the_rest_of_the_block_is_rejected) {
  BOOST_TEST(malformed_message(from_hex("0f09 0561 62")) ==
             "HPACK: string literal of 5 bytes runs past the end of the block (2 left)");
  BOOST_TEST(malformed_message(from_hex("0f09 7f80ffffff0f")) ==
             "HPACK: string literal of 4294967295 bytes runs past the end of the block (0 left)");
}

BOOST_AUTO_TEST_CASE(truncation_at_every_offset_throws_unless_it_falls_between_fields) {
  std::mt19937 rng(1);
  const std::string token = fake_token(650, rng);
  std::vector<request_field> fields = chat_request(rng, token);
  fields.push_back({"x-secret", "s3cr3t", h2::indexing::never});

  h2::encoder encoder;
  encoder.set_max_table_size(2048);  // so the block starts with a size update
  std::string block;
  // Where a cut leaves a valid (shorter) block: offset -> fields complete.
  std::map<std::size_t, std::size_t> boundaries = {{0, 0}};
  encoder.begin_block(block);
  boundaries[block.size()] = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    encoder.encode(block, fields[i].name, fields[i].value, fields[i].how);
    boundaries[block.size()] = i + 1;
  }
  const field_list all = expected_fields(fields);

  for (std::size_t cut = 0; cut < block.size(); ++cut) {
    BOOST_TEST_CONTEXT("cut at " << cut << " of " << block.size()) {
      h2::decoder decoder;  // fresh each time: the table state before the block
      std::string_view cut_block = std::string_view(block).substr(0, cut);
      if (auto boundary = boundaries.find(cut); boundary != boundaries.end()) {
        auto complete = static_cast<std::ptrdiff_t>(boundary->second);
        BOOST_TEST(decode_block(decoder, cut_block) ==
                   field_list(all.begin(), all.begin() + complete));
      } else {
        malformed_message(decoder, cut_block);
      }
    }
  }
  h2::decoder decoder;
  BOOST_TEST(decode_block(decoder, block) == all);
}

// --- header list limit (RFC 9113 6.5.2) ---

BOOST_AUTO_TEST_CASE(header_list_limit_counts_32_bytes_per_field) {
  h2::encoder encoder;
  std::string block;
  encoder.encode(block, "x-a", std::string(30, 'a'), h2::indexing::without);  // 65
  encoder.encode(block, "x-b", std::string(30, 'b'), h2::indexing::without);  // 65

  h2::decoder exact(4096, 130);
  BOOST_TEST(decode_block(exact, block).size() == 2u);

  h2::decoder small(4096, 129);
  auto f = failure_of([&] { decode_block(small, block); });
  BOOST_TEST((f.code == keyless::errc::limit_exceeded));
  BOOST_TEST(f.message == "HPACK: header list is larger than the limit of 129 bytes");
}

BOOST_AUTO_TEST_CASE(header_list_limit_stops_a_block_that_repeats_a_large_entry) {
  h2::encoder encoder;
  h2::decoder decoder;  // 64 KiB limit
  std::string first;
  encoder.encode(first, "x-big", std::string(4000, 'x'));
  decode_block(decoder, first);
  std::string bomb(1000, '\xbe');  // 1000 one-byte references: 4 MB of fields
  std::size_t delivered = 0;
  auto f =
      failure_of([&] { decoder.decode(bomb, [&](const h2::decoded_field&) { ++delivered; }); });
  BOOST_TEST((f.code == keyless::errc::limit_exceeded));
  BOOST_TEST(delivered == 16u);  // 16 * 4037 fits in 65536, 17 does not
}

// --- encoder and decoder in step ---

BOOST_AUTO_TEST_CASE(decoder_handles_a_literal_whose_name_entry_its_insertion_evicts) {
  h2::decoder decoder(60);
  // custom name "abc" value 20 x's (55 bytes), then name index 62 with a new value.
  std::string block =
      from_hex("40 03") + "abc" + from_hex("14") + std::string(20, 'x') + from_hex("7e 02") + "yz";
  BOOST_TEST(
      (decode_block(decoder, block) == field_list{{"abc", std::string(20, 'x')}, {"abc", "yz"}}));
  BOOST_TEST(entries_of(decoder.table()) == std::vector<std::string>{"abc: yz"});
}

BOOST_AUTO_TEST_CASE(decode_into_fields_appends_copies) {
  h2::decoder decoder;
  keyless::http::fields out;
  out.add("x-before", "1");
  decoder.decode(from_hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), out);
  BOOST_TEST(out.size() == 5u);
  BOOST_TEST(*out.find(":authority") == "www.example.com");
}

BOOST_AUTO_TEST_CASE(encoder_and_decoder_stay_in_step_over_many_blocks_under_table_pressure) {
  std::mt19937 rng(2024);
  for (std::size_t table_size : {0u, 64u, 256u, 1024u, 4096u}) {
    BOOST_TEST_CONTEXT("table size " << table_size) {
      h2::encoder encoder(table_size);
      h2::decoder decoder(table_size);
      std::string token = fake_token(650, rng);
      std::string block;
      for (int round = 0; round < 300; ++round) {
        if (rng() % 50 == 0) token = fake_token(600 + rng() % 2000, rng);  // a refreshed token
        // Now and then the peer changes SETTINGS_HEADER_TABLE_SIZE, sometimes twice.
        for (unsigned change = rng() % 16; change < 2; ++change) {
          std::size_t size = rng() % 3 == 0 ? 0 : rng() % 5000;
          encoder.set_max_table_size(size);
          decoder.set_max_table_size(size);
        }
        std::vector<request_field> fields = chat_request(rng, token);
        block.clear();
        encoder.begin_block(block);
        for (const auto& f : fields) encoder.encode(block, f.name, f.value, f.how);
        BOOST_TEST_REQUIRE(decode_block(decoder, block) == expected_fields(fields),
                           "round " << round);
        BOOST_TEST_REQUIRE(entries_of(decoder.table()) == entries_of(encoder.table()));
        BOOST_TEST_REQUIRE(decoder.table().size() == encoder.table().size());
        BOOST_TEST_REQUIRE(decoder.table().size() <= decoder.table().max_size());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
