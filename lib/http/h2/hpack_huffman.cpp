#include "http/h2/hpack_huffman.hpp"

#include <cstdint>
#include <stdexcept>

#include "http/h2/hpack_error.hpp"

namespace keyless::http::h2::huffman {
namespace {

// RFC 7541 Appendix B, symbol by symbol: {code, length in bits}.
// clang-format off
constexpr std::array<code, 257> codes = {{
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28}, {0xfffffe4, 28}, // 0
    {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28}, {0xfffffe8, 28}, {0xffffea, 24}, // 5
    {0x3ffffffc, 30}, {0xfffffe9, 28}, {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, // 10
    {0xfffffec, 28}, {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28}, // 15
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28}, {0xffffff4, 28}, // 20
    {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28}, {0xffffff8, 28}, {0xffffff9, 28}, // 25
    {0xffffffa, 28}, {0xffffffb, 28}, {0x14, 6}, {0x3f8, 10}, {0x3f9, 10},           // 30
    {0xffa, 12}, {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},                    // 35
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11}, {0xfa, 8},                     // 40
    {0x16, 6}, {0x17, 6}, {0x18, 6}, {0x0, 5}, {0x1, 5},                             // 45
    {0x2, 5}, {0x19, 6}, {0x1a, 6}, {0x1b, 6}, {0x1c, 6},                            // 50
    {0x1d, 6}, {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},                           // 55
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10}, {0x1ffa, 13},                 // 60
    {0x21, 6}, {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7},                           // 65
    {0x61, 7}, {0x62, 7}, {0x63, 7}, {0x64, 7}, {0x65, 7},                           // 70
    {0x66, 7}, {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},                           // 75
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7}, {0x6f, 7},                           // 80
    {0x70, 7}, {0x71, 7}, {0x72, 7}, {0xfc, 8}, {0x73, 7},                           // 85
    {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14},              // 90
    {0x22, 6}, {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5},                          // 95
    {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6}, {0x27, 6},                            // 100
    {0x6, 5}, {0x74, 7}, {0x75, 7}, {0x28, 6}, {0x29, 6},                            // 105
    {0x2a, 6}, {0x7, 5}, {0x2b, 6}, {0x76, 7}, {0x2c, 6},                            // 110
    {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},                             // 115
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11},                      // 120
    {0x3ffd, 14}, {0x1ffd, 13}, {0xffffffc, 28}, {0xfffe6, 20}, {0x3fffd2, 22},      // 125
    {0xfffe7, 20}, {0xfffe8, 20}, {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22},    // 130
    {0x7fffd9, 23}, {0x3fffd6, 22}, {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23},  // 135
    {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23}, {0xffffec, 24},  // 140
    {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23}, {0xffffee, 24}, {0x7fffe1, 23},  // 145
    {0x7fffe2, 23}, {0x7fffe3, 23}, {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22},  // 150
    {0x7fffe5, 23}, {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24},  // 155
    {0x3fffda, 22}, {0x1fffdd, 21}, {0xfffe9, 20}, {0x3fffdb, 22}, {0x3fffdc, 22},   // 160
    {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21}, {0x7fffea, 23}, {0x3fffdd, 22},  // 165
    {0x3fffde, 22}, {0xfffff0, 24}, {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23},  // 170
    {0x7fffec, 23}, {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},  // 175
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23}, {0xfffea, 20},   // 180
    {0x3fffe2, 22}, {0x3fffe3, 22}, {0x3fffe4, 22}, {0x7ffff0, 23}, {0x3fffe5, 22},  // 185
    {0x3fffe6, 22}, {0x7ffff1, 23}, {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, // 190
    {0x7fff1, 19}, {0x3fffe7, 22}, {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25},  // 195
    {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27}, {0x7ffffdf, 27}, // 200
    {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25}, {0x7fff2, 19}, {0x1fffe3, 21}, // 205
    {0x3ffffe6, 26}, {0x7ffffe0, 27}, {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, // 210
    {0xfffff2, 24}, {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26}, // 215
    {0xffffffd, 28}, {0x7ffffe3, 27}, {0x7ffffe4, 27}, {0x7ffffe5, 27}, {0xfffec, 20}, // 220
    {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21}, {0x3fffe9, 22}, {0x1fffe7, 21},   // 225
    {0x1fffe8, 21}, {0x7ffff3, 23}, {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25}, // 230
    {0x1ffffef, 25}, {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23}, // 235
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26}, {0x7ffffe7, 27}, // 240
    {0x7ffffe8, 27}, {0x7ffffe9, 27}, {0x7ffffea, 27}, {0x7ffffeb, 27}, {0xffffffe, 28}, // 245
    {0x7ffffec, 27}, {0x7ffffed, 27}, {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, // 250
    {0x3ffffee, 26}, {0x3fffffff, 30},                                               // 255
}};
// clang-format on

// Decoding walks the code's binary tree four bits at a time, using a table
// built here at compile time: for each inner node of the tree (the bits of
// an unfinished code) and each nibble, the node reached and the byte, if
// any, the nibble completed. No code is shorter than 5 bits, so one nibble
// completes at most one byte. A complete code of 257 words has 256 inner
// nodes, so a node fits in a byte; node 0 is the root.
constexpr std::size_t inner_nodes = 256;

struct code_tree {
  // child[node][bit]: > 0 an inner node, < 0 the leaf of symbol -child - 1,
  // 0 not built yet (the root is nobody's child).
  std::array<std::array<std::int16_t, 2>, inner_nodes> child{};
};

constexpr code_tree build_tree() {
  code_tree tree;
  int next_node = 1;
  for (int symbol = 0; symbol <= static_cast<int>(eos_symbol); ++symbol) {
    const code& word = codes[symbol];
    int node = 0;
    for (int bit = word.length - 1; bit > 0; --bit) {
      std::int16_t& slot = tree.child[node][(word.bits >> bit) & 1];
      if (slot < 0) throw std::logic_error("the Huffman table is not a prefix code");
      if (slot == 0) {
        if (next_node == static_cast<int>(inner_nodes)) throw std::logic_error("too many nodes");
        slot = static_cast<std::int16_t>(next_node++);
      }
      node = slot;
    }
    std::int16_t& leaf = tree.child[node][word.bits & 1];
    if (leaf != 0) throw std::logic_error("the Huffman table is not a prefix code");
    leaf = static_cast<std::int16_t>(-symbol - 1);
  }
  if (next_node != static_cast<int>(inner_nodes)) {
    throw std::logic_error("the Huffman table is not a complete code");
  }
  return tree;
}

enum step_flag : std::uint8_t {
  emits = 1,         // `symbol` is a decoded byte (must be 1: the decoder adds it to a pointer)
  holds_eos = 2,     // the nibble completed EOS
  may_end = 4,       // `next` is valid padding: at most 7 one bits after the last code
  long_padding = 8,  // `next` is 8 or more one bits after the last code
};

// Padded to 4 bytes: aligned loads make the decoding loop about 15% faster.
struct alignas(4) decode_step {
  std::uint8_t next;
  std::uint8_t symbol;
  std::uint8_t flags;
  std::uint8_t unused;
};

using decode_table = std::array<std::array<decode_step, 16>, inner_nodes>;

constexpr decode_table build_decode_table() {
  const code_tree tree = build_tree();
  // The inner nodes reached from the root by one bits only (EOS is all ones).
  std::array<std::uint8_t, inner_nodes> ones_depth{};
  for (int node = 0, depth = 1; depth < 30; ++depth) {
    node = tree.child[node][1];
    ones_depth[node] = static_cast<std::uint8_t>(depth);
  }
  decode_table table{};
  for (std::size_t state = 0; state < inner_nodes; ++state) {
    for (int nibble = 0; nibble < 16; ++nibble) {
      decode_step step{};
      int node = static_cast<int>(state);
      for (int bit = 3; bit >= 0; --bit) {
        int child = tree.child[node][(nibble >> bit) & 1];
        if (child > 0) {
          node = child;
          continue;
        }
        if (-child - 1 == static_cast<int>(eos_symbol)) step.flags |= holds_eos;
        if (step.flags & emits) throw std::logic_error("a nibble completed two symbols");
        step.flags |= emits;
        step.symbol = static_cast<std::uint8_t>(-child - 1);
        node = 0;
      }
      step.next = static_cast<std::uint8_t>(node);
      if (node == 0 || (ones_depth[node] > 0 && ones_depth[node] <= 7)) step.flags |= may_end;
      if (ones_depth[node] > 7) step.flags |= long_padding;
      table[state][nibble] = step;
    }
  }
  return table;
}

constexpr decode_table decoding = build_decode_table();

}  // namespace

const std::array<code, 257>& code_table() noexcept {
  return codes;
}

std::size_t encoded_size(std::string_view text) noexcept {
  std::size_t bits = 0;
  for (char c : text) bits += codes[static_cast<unsigned char>(c)].length;
  return (bits + 7) / 8;
}

void encode(std::string_view text, char* out) noexcept {
  // Bits not yet written sit at the bottom of `pending`: at most 7 left
  // over plus one 30-bit code, so 64 bits never overflow.
  std::uint64_t pending = 0;
  unsigned pending_bits = 0;
  for (char c : text) {
    const code& word = codes[static_cast<unsigned char>(c)];
    pending = (pending << word.length) | word.bits;
    pending_bits += word.length;
    while (pending_bits >= 8) {
      pending_bits -= 8;
      *out++ = static_cast<char>(pending >> pending_bits);
    }
  }
  if (pending_bits > 0) {
    *out = static_cast<char>((pending << (8 - pending_bits)) | (0xffu >> pending_bits));
  }
}

void encode(std::string_view text, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + encoded_size(text));
  encode(text, out.data() + start);
}

void decode(std::string_view encoded, std::string& out) {
  std::size_t start = out.size();
  // Every code has at least 5 bits; the extra byte lets each step store its
  // symbol unconditionally and advance only when it emitted one.
  out.resize(start + encoded.size() * 8 / 5 + 1);
  char* const first = out.data() + start;
  char* dst = first;
  std::uint8_t state = 0;
  std::uint8_t flags = may_end;
  std::uint8_t seen = 0;
  for (char c : encoded) {
    auto byte = static_cast<unsigned char>(c);
    const decode_step& high = decoding[state][byte >> 4];
    *dst = static_cast<char>(high.symbol);
    dst += high.flags & emits;
    const decode_step& low = decoding[high.next][byte & 0x0f];
    *dst = static_cast<char>(low.symbol);
    dst += low.flags & emits;
    seen |= high.flags | low.flags;
    state = low.next;
    flags = low.flags;
  }
  out.resize(start + static_cast<std::size_t>(dst - first));
  if (seen & holds_eos) hpack_malformed("Huffman-coded string contains the EOS symbol");
  if (flags & long_padding) hpack_malformed("Huffman-coded string has more than 7 bits of padding");
  if (!(flags & may_end)) {
    hpack_malformed("Huffman-coded string ends inside a code (padding must be all one bits)");
  }
}

}  // namespace keyless::http::h2::huffman
