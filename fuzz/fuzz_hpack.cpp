// libFuzzer target for the HPACK decoder. The input is a configuration byte
// (table size, header list limit, Huffman use on re-encoding) and then up to
// four header blocks, each a length byte and that many bytes, decoded in
// order on one connection. keyless::error (malformed_response or
// limit_exceeded) is an expected outcome and ends the connection; anything
// else escapes and is a crash. Oracles: the dynamic table never exceeds its
// limit; every decoded block, re-encoded by an encoder of its own and decoded
// by a second decoder, gives back the same fields with both tables equal;
// a block that decodes as one Huffman string re-encodes to the same bytes
// (a string has exactly one valid encoding).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/hpack_huffman.hpp"
#include "keyless/core/error.hpp"

namespace {

namespace h2 = keyless::http::h2;

void check(bool ok) {
  if (!ok) std::abort();
}

struct field {
  std::string name;
  std::string value;
  bool never_indexed = false;
  bool operator==(const field&) const = default;
};

std::vector<field> decode(h2::decoder& decoder, std::string_view block) {
  std::vector<field> fields;
  decoder.decode(block, [&fields](const h2::decoded_field& f) {
    fields.push_back({std::string(f.name), std::string(f.value), f.never_indexed});
  });
  return fields;
}

bool same_tables(const h2::dynamic_table& a, const h2::dynamic_table& b) {
  if (a.count() != b.count() || a.size() != b.size() || a.max_size() != b.max_size()) return false;
  for (std::size_t i = 0; i < a.count(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

void check_huffman_is_canonical(std::string_view bytes) {
  std::string text;
  try {
    h2::huffman::decode(bytes, text);
  } catch (const keyless::error&) {
    return;
  }
  std::string again;
  h2::huffman::encode(text, again);
  check(again == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::size_t table_sizes[] = {4096, 256, 64, 0};
  const std::size_t table_size = table_sizes[config & 3];
  const std::size_t list_limit = (config & 4) != 0 ? 512 : 64 * 1024;
  const auto huffman =
      (config & 8) != 0 ? h2::huffman_use::never : h2::huffman_use::when_not_longer;
  const bool index_literals = (config & 16) == 0;

  h2::decoder decoder(table_size, list_limit);
  h2::encoder encoder(table_size, huffman);
  h2::decoder round_trip(table_size, list_limit);
  for (int block_number = 0; block_number < 4 && !rest.empty(); ++block_number) {
    std::size_t length = static_cast<unsigned char>(rest[0]);
    std::string_view block = rest.substr(1, length);
    rest.remove_prefix(1 + block.size());
    if (block_number == 0) check_huffman_is_canonical(block);

    std::vector<field> fields;
    try {
      fields = decode(decoder, block);
    } catch (const keyless::error& e) {
      check(e.code() == keyless::errc::malformed_response ||
            e.code() == keyless::errc::limit_exceeded);
      check(e.message().rfind("HPACK: ", 0) == 0);
      return 0;  // the connection would end here
    }
    check(decoder.table().size() <= decoder.table().max_size());

    // Follow the peer's table size, as a SETTINGS change would make us.
    if (decoder.table().max_size() != encoder.table().max_size()) {
      encoder.set_max_table_size(decoder.table().max_size());
      round_trip.set_max_table_size(decoder.table().max_size());
    }
    std::string encoded;
    encoder.begin_block(encoded);
    for (const field& f : fields) {
      h2::indexing how = f.never_indexed  ? h2::indexing::never
                         : index_literals ? h2::indexing::incremental
                                          : h2::indexing::without;
      encoder.encode(encoded, f.name, f.value, how);
    }
    check(decode(round_trip, encoded) == fields);
    check(same_tables(encoder.table(), round_trip.table()));
  }
  return 0;
}
