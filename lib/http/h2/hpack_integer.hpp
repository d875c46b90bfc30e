#pragma once
// HPACK's integers (RFC 7541 5.1): a value that fits in the low N bits of
// the first byte stays there; a larger one fills them and continues in
// 7-bit groups, least significant first.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keyless::http::h2 {

/// The largest integer the decoder accepts. Indexes, string lengths and
/// table sizes all stay far below it; anything larger is an attack.
inline constexpr std::uint32_t max_hpack_integer = 0xffffffff;

/// Appends `value` with an N-bit prefix (1 <= prefix_bits <= 8). `flags` are
/// the representation's bits above the prefix in the first byte.
void append_integer(std::string& out, std::uint8_t flags, int prefix_bits, std::uint64_t value);

/// Reads an integer with an N-bit prefix starting at in[pos], leaving pos
/// just past it. Throws keyless::error (malformed_response) when the input
/// ends inside the integer, when it is larger than max_hpack_integer, or
/// when it has more continuation bytes than such a value needs (5).
std::uint32_t read_integer(std::string_view in, std::size_t& pos, int prefix_bits);

}  // namespace keyless::http::h2
