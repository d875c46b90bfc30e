#pragma once
// The static Huffman code HPACK uses for string literals (RFC 7541 5.2 and
// Appendix B). Typical header text shrinks by a fifth to a third.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keyless::http::h2::huffman {

/// One code word: the low `length` bits of `bits`, most significant first.
struct code {
  std::uint32_t bits;
  std::uint8_t length;
};

/// Symbol 256 of the code: end of string. Never sent whole; its leading
/// bits pad the last byte.
inline constexpr std::size_t eos_symbol = 256;

/// The code words of byte values 0-255 and of EOS, as Appendix B lists them.
const std::array<code, 257>& code_table() noexcept;

/// Bytes that encode(text) produces.
std::size_t encoded_size(std::string_view text) noexcept;

/// Writes exactly encoded_size(text) bytes to `out`, the last byte padded
/// with the leading bits of EOS.
void encode(std::string_view text, char* out) noexcept;

/// Appends the encoding of `text` to `out`.
void encode(std::string_view text, std::string& out);

/// Appends the decoding of `encoded` to `out`. Throws keyless::error
/// (malformed_response) when the input holds EOS, or its padding is longer
/// than 7 bits or not a prefix of EOS (all ones): RFC 7541 5.2 makes each a
/// decoding error. On a throw `out` holds unspecified extra bytes.
void decode(std::string_view encoded, std::string& out);

}  // namespace keyless::http::h2::huffman
