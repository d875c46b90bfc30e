#include "http/h2/hpack_integer.hpp"

#include "http/h2/hpack_error.hpp"

namespace keyless::http::h2 {
namespace {

// 32 bits need at most five 7-bit groups beyond the prefix. More than that
// can only be zero padding, which a peer would send just to waste our time.
constexpr int max_continuation_bytes = 5;

}  // namespace

void append_integer(std::string& out, std::uint8_t flags, int prefix_bits, std::uint64_t value) {
  const std::uint64_t prefix_max = (1u << prefix_bits) - 1;
  if (value < prefix_max) {
    out.push_back(static_cast<char>(flags | value));
    return;
  }
  out.push_back(static_cast<char>(flags | prefix_max));
  value -= prefix_max;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::uint32_t read_integer(std::string_view in, std::size_t& pos, int prefix_bits) {
  if (pos >= in.size()) hpack_malformed("block ends where an integer should start");
  const std::uint32_t prefix_max = (1u << prefix_bits) - 1;
  std::uint32_t prefix = static_cast<unsigned char>(in[pos++]) & prefix_max;
  if (prefix < prefix_max) return prefix;

  std::uint64_t value = prefix;
  for (int i = 0; i < max_continuation_bytes; ++i) {
    if (pos >= in.size()) hpack_malformed("block ends inside an integer");
    auto byte = static_cast<unsigned char>(in[pos++]);
    value += static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if (value > max_hpack_integer) hpack_malformed("integer is larger than 2^32 - 1");
    if ((byte & 0x80) == 0) return static_cast<std::uint32_t>(value);
  }
  hpack_malformed("integer has more than 5 continuation bytes");
}

}  // namespace keyless::http::h2
