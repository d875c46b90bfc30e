#pragma once
// Frames spelled out byte by byte from the RFC 9113 layouts (section 4.1 and
// 6), independently of the writers under test.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace h2_test {

/// One char per value; each value is a byte.
inline std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (unsigned v : values) out += static_cast<char>(v & 0xff);
  return out;
}

inline std::string u16(std::uint32_t v) {
  return bytes({v >> 8, v});
}

inline std::string u32(std::uint32_t v) {
  return bytes({v >> 24, v >> 16, v >> 8, v});
}

/// Length (24 bits), type, flags, then R + stream id (31 bits).
inline std::string header(std::uint32_t length, unsigned type, unsigned flags,
                          std::uint32_t stream) {
  return bytes({length >> 16, length >> 8, length, type, flags}) + u32(stream);
}

/// A whole frame whose length is that of `payload`.
inline std::string wire_frame(unsigned type, unsigned flags, std::uint32_t stream,
                              std::string_view payload = {}) {
  return header(static_cast<std::uint32_t>(payload.size()), type, flags, stream) +
         std::string(payload);
}

/// An empty SETTINGS frame: the shortest server preface.
inline std::string empty_settings() {
  return wire_frame(0x4, 0, 0);
}

}  // namespace h2_test
