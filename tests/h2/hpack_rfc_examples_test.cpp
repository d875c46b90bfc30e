// RFC 7541 Appendix C, example by example: the decoder must produce the
// listed fields and dynamic table from the listed bytes, and the encoder
// must produce those bytes from the fields. The RFC's encoder indexes every
// literal (indexing::incremental) and, in C.4 and C.6, Huffman-codes every
// string; ours does the same with indexing::incremental and
// huffman_use::when_not_longer (C.6.2 codes "307" in 3 bytes, as long as the
// raw string: ties go to Huffman), or huffman_use::never for C.3 and C.5.

#include <boost/test/unit_test.hpp>

#include "hpack_test_support.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace h2 = keyless::http::h2;
using hpack_test::decode_block;
using hpack_test::entries_of;
using hpack_test::field_list;
using hpack_test::from_hex;
using hpack_test::to_hex;

namespace {

// One header block of an example and the state after it.
struct example_block {
  std::string_view hex;
  field_list fields;
  std::vector<std::string> table;  // newest first, "name: value"
  std::size_t table_size;
};

// Decodes and encodes the blocks in order on one connection.
void check_connection(const std::vector<example_block>& blocks, std::size_t table_size,
                      h2::huffman_use huffman) {
  h2::decoder decoder(table_size);
  h2::encoder encoder(table_size, huffman);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    BOOST_TEST_CONTEXT("block " << i + 1) {
      const example_block& block = blocks[i];
      std::string bytes = from_hex(block.hex);
      BOOST_TEST(decode_block(decoder, bytes) == block.fields);
      BOOST_TEST(entries_of(decoder.table()) == block.table);
      BOOST_TEST(decoder.table().size() == block.table_size);

      std::string out;
      encoder.begin_block(out);
      for (const auto& f : block.fields) {
        encoder.encode(out, f.name, f.value, h2::indexing::incremental);
      }
      BOOST_TEST(to_hex(out) == to_hex(bytes));
      BOOST_TEST(entries_of(encoder.table()) == block.table);
      BOOST_TEST(encoder.table().size() == block.table_size);
    }
  }
}

// C.3 and C.4: three requests; the fields and tables are the same in both.
std::vector<example_block> requests(std::string_view hex1, std::string_view hex2,
                                    std::string_view hex3) {
  return {
      {hex1,
       {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}},
       {":authority: www.example.com"},
       57},
      {hex2,
       {{":method", "GET"},
        {":scheme", "http"},
        {":path", "/"},
        {":authority", "www.example.com"},
        {"cache-control", "no-cache"}},
       {"cache-control: no-cache", ":authority: www.example.com"},
       110},
      {hex3,
       {{":method", "GET"},
        {":scheme", "https"},
        {":path", "/index.html"},
        {":authority", "www.example.com"},
        {"custom-key", "custom-value"}},
       {"custom-key: custom-value", "cache-control: no-cache", ":authority: www.example.com"},
       164},
  };
}

// C.5 and C.6: three responses through a 256-byte table, with evictions.
std::vector<example_block> responses(std::string_view hex1, std::string_view hex2,
                                     std::string_view hex3) {
  const std::string date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
  const std::string date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
  const std::string location = "https://www.example.com";
  const std::string cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
  return {
      {hex1,
       {{":status", "302"}, {"cache-control", "private"}, {"date", date1}, {"location", location}},
       {"location: " + location, "date: " + date1, "cache-control: private", ":status: 302"},
       222},
      {hex2,
       {{":status", "307"}, {"cache-control", "private"}, {"date", date1}, {"location", location}},
       {":status: 307", "location: " + location, "date: " + date1, "cache-control: private"},
       222},
      {hex3,
       {{":status", "200"},
        {"cache-control", "private"},
        {"date", date2},
        {"location", location},
        {"content-encoding", "gzip"},
        {"set-cookie", cookie}},
       {"set-cookie: " + cookie, "content-encoding: gzip", "date: " + date2},
       215},
  };
}

// C.2: one representation each, on a fresh connection.
void check_single(std::string_view hex, const hpack_test::field& expected, h2::indexing how,
                  std::vector<std::string> table) {
  h2::decoder decoder;
  std::string bytes = from_hex(hex);
  BOOST_TEST(decode_block(decoder, bytes) == field_list{expected});
  BOOST_TEST(entries_of(decoder.table()) == table);

  h2::encoder encoder(4096, h2::huffman_use::never);
  std::string out;
  encoder.begin_block(out);
  encoder.encode(out, expected.name, expected.value, how);
  BOOST_TEST(to_hex(out) == to_hex(bytes));
  BOOST_TEST(entries_of(encoder.table()) == table);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hpack)

BOOST_AUTO_TEST_CASE(rfc_c2_1_literal_with_indexing) {
  check_single("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
               {"custom-key", "custom-header"}, h2::indexing::incremental,
               {"custom-key: custom-header"});
}

BOOST_AUTO_TEST_CASE(rfc_c2_2_literal_without_indexing) {
  check_single("040c 2f73 616d 706c 652f 7061 7468", {":path", "/sample/path"},
               h2::indexing::without, {});
}

BOOST_AUTO_TEST_CASE(rfc_c2_3_literal_never_indexed) {
  check_single("1008 7061 7373 776f 7264 0673 6563 7265 74", {"password", "secret", true},
               h2::indexing::never, {});
}

BOOST_AUTO_TEST_CASE(rfc_c2_4_indexed_field) {
  check_single("82", {":method", "GET"}, h2::indexing::incremental, {});
}

BOOST_AUTO_TEST_CASE(rfc_c3_requests_without_huffman) {
  check_connection(requests("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                            "8286 84be 5808 6e6f 2d63 6163 6865",
                            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 "
                            "6c75 65"),
                   4096, h2::huffman_use::never);
}

BOOST_AUTO_TEST_CASE(rfc_c4_requests_with_huffman) {
  check_connection(
      requests("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf",
               "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
      4096, h2::huffman_use::when_not_longer);
}

BOOST_AUTO_TEST_CASE(rfc_c5_responses_without_huffman) {
  check_connection(
      responses("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 "
                "3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 "
                "7861 6d70 6c65 2e63 6f6d",
                "4803 3330 37c1 c0bf",
                "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 "
                "474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 "
                "454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 "
                "6572 7369 6f6e 3d31"),
      256, h2::huffman_use::never);
}

BOOST_AUTO_TEST_CASE(rfc_c6_responses_with_huffman) {
  check_connection(
      responses("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 "
                "82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                "4883 640e ffc1 c0bf",
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b "
                "d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 "
                "0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"),
      256, h2::huffman_use::when_not_longer);
}

BOOST_AUTO_TEST_SUITE_END()
