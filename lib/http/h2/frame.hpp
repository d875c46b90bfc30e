#pragma once
// HTTP/2 frames (RFC 9113 section 4 and 6): the wire vocabulary, the 9-byte
// frame header, the error a peer's protocol violation raises, and writers
// that append one frame to a buffer. Sans-I/O: no sockets, no state.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "keyless/core/error.hpp"

namespace keyless::http::h2 {

/// Frame types (RFC 9113 section 6). Any other value is an extension type a
/// receiver must ignore, so the enum holds every 8-bit value.
enum class frame_type : std::uint8_t {
  data = 0x0,
  headers = 0x1,
  priority = 0x2,
  rst_stream = 0x3,
  settings = 0x4,
  push_promise = 0x5,
  ping = 0x6,
  goaway = 0x7,
  window_update = 0x8,
  continuation = 0x9,
};

/// True for the ten types RFC 9113 defines.
constexpr bool is_known(frame_type t) noexcept {
  return t <= frame_type::continuation;
}

/// "DATA", "HEADERS", ...; "unknown" for an extension type.
std::string_view to_string(frame_type t) noexcept;

/// Frame flags. One bit means different things for different types.
namespace flag {
inline constexpr std::uint8_t end_stream = 0x01;   ///< DATA, HEADERS
inline constexpr std::uint8_t ack = 0x01;          ///< SETTINGS, PING
inline constexpr std::uint8_t end_headers = 0x04;  ///< HEADERS, PUSH_PROMISE, CONTINUATION
inline constexpr std::uint8_t padded = 0x08;       ///< DATA, HEADERS, PUSH_PROMISE
inline constexpr std::uint8_t priority = 0x20;     ///< HEADERS
}  // namespace flag

/// Error codes of RST_STREAM and GOAWAY (RFC 9113 section 7). A peer may send
/// values outside this list; they mean nothing special.
enum class error_code : std::uint32_t {
  no_error = 0x0,
  protocol_error = 0x1,
  internal_error = 0x2,
  flow_control_error = 0x3,
  settings_timeout = 0x4,
  stream_closed = 0x5,
  frame_size_error = 0x6,
  refused_stream = 0x7,
  cancel = 0x8,
  compression_error = 0x9,
  connect_error = 0xa,
  enhance_your_calm = 0xb,
  inadequate_security = 0xc,
  http_1_1_required = 0xd,
};

/// "PROTOCOL_ERROR", ...; "unknown error code" for a value outside the list.
std::string_view to_string(error_code e) noexcept;

/// SETTINGS parameters (RFC 9113 section 6.5.2). Other identifiers are
/// ignored on receipt, so setting::id is a plain integer.
enum class setting_id : std::uint16_t {
  header_table_size = 0x1,
  enable_push = 0x2,
  max_concurrent_streams = 0x3,
  initial_window_size = 0x4,
  max_frame_size = 0x5,
  max_header_list_size = 0x6,
};

struct setting {
  std::uint16_t id = 0;
  std::uint32_t value = 0;
  bool operator==(const setting&) const = default;
};

constexpr setting make_setting(setting_id id, std::uint32_t value) noexcept {
  return {static_cast<std::uint16_t>(id), value};
}

/// The two ends of a connection, for code that reads what either may send.
enum class peer_role : std::uint8_t { server, client };

/// What every client sends first, before its SETTINGS frame (RFC 9113 3.4).
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

inline constexpr std::size_t frame_header_size = 9;
/// SETTINGS_MAX_FRAME_SIZE: its initial value, which is also the smallest
/// allowed, and the largest a 24-bit length can carry.
inline constexpr std::uint32_t default_max_frame_size = 16'384;
inline constexpr std::uint32_t largest_max_frame_size = 16'777'215;
/// Flow-control windows start at 65,535 and never pass 2^31-1 (RFC 9113 6.9).
inline constexpr std::uint32_t default_initial_window_size = 65'535;
inline constexpr std::uint32_t max_window_size = 0x7fff'ffff;
/// Stream identifiers are 31 bits; the 32nd is reserved.
inline constexpr std::uint32_t max_stream_id = 0x7fff'ffff;

/// The fixed header in front of every frame.
struct frame_header {
  std::uint32_t length = 0;  ///< payload bytes on the wire (24 bits), padding included
  frame_type type = frame_type::data;
  std::uint8_t flags = 0;
  std::uint32_t stream_id = 0;  ///< 31 bits; the reserved bit is dropped on reading

  bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
  bool operator==(const frame_header&) const = default;
};

/// Decodes the first frame_header_size bytes of `bytes`, which must hold them.
frame_header read_frame_header(std::string_view bytes) noexcept;
/// A 31-bit stream id in the first 4 bytes of `bytes` (which must hold them),
/// without the reserved bit.
std::uint32_t read_stream_id(std::string_view bytes) noexcept;

/// A caller asked for something HTTP/2 cannot carry: throws keyless::error
/// (invalid_argument) with a message starting "HTTP/2: ".
[[noreturn]] void throw_invalid_argument(const std::string& what);

/// A connection error (RFC 9113 5.4.1): the peer broke a rule, and the
/// connection must end with GOAWAY carrying h2_code(). message() names what
/// was wrong ("HTTP/2: PING frame with a 7-byte payload (must be 8)").
/// code() is errc::malformed_response, or errc::limit_exceeded when only one
/// of our limits was passed.
class connection_error;

/// Throws connection_error(code, "HTTP/2: " + what): the peer broke a rule of the connection.
[[noreturn]] void throw_peer_error(error_code code, const std::string& what);

/// Throws keyless::error(invalid_argument) unless `size` is a window RFC 9113 allows
/// ([65,535, 2^31-1]); `what` names the option.
void check_window_option(std::string_view what, std::uint32_t size);

/// The HPACK table size both ends start with (RFC 9113 6.5.2).
inline constexpr std::uint32_t initial_header_table_size = 4'096;

class connection_error : public keyless::error {
 public:
  connection_error(error_code h2_code, const std::string& message,
                   errc code = errc::malformed_response);
  error_code h2_code() const noexcept { return h2_code_; }

 private:
  error_code h2_code_;
};

// --- Payload readers, for frames frame_reader has checked. Each throws
// keyless::error(invalid_argument) if `payload` is shorter than its layout.

/// WINDOW_UPDATE: the increment, without the reserved bit.
std::uint32_t read_window_increment(std::string_view payload);
/// RST_STREAM: the error code.
error_code read_rst_stream(std::string_view payload);
/// PING: the 8 opaque bytes, big-endian, as write_ping takes them.
std::uint64_t read_ping(std::string_view payload);

struct goaway_frame {
  std::uint32_t last_stream_id = 0;
  error_code code = error_code::no_error;
  std::string_view debug_data;  ///< points into the payload
};
/// GOAWAY: last stream id, error code and debug data.
goaway_frame read_goaway(std::string_view payload);

/// SETTINGS: calls fn(setting) for each 6-byte entry, in order. A trailing
/// partial entry (which frame_reader never lets through) is ignored.
template <typename Fn>
void for_each_setting(std::string_view payload, Fn&& fn);

// --- Writers. Each appends one frame (or a HEADERS + CONTINUATION run) to
// `out` and allocates only if `out` must grow. Arguments that cannot go on the
// wire (a stream id over 2^31-1, stream 0 where a stream is required, a
// payload over 2^24-1 bytes, a window increment of 0) throw
// keyless::error(invalid_argument): they are bugs of the caller, not of the peer.

/// Any frame: the header, then `payload` as it is.
void write_frame(std::string& out, frame_header header, std::string_view payload);

void write_settings(std::string& out, std::span<const setting> settings);
void write_settings_ack(std::string& out);

/// A header block on `stream_id`: one HEADERS frame with END_HEADERS, or,
/// when the block is larger than the peer's `max_frame_size`, HEADERS and
/// then CONTINUATION frames, the last with END_HEADERS. END_STREAM goes on
/// the HEADERS frame.
void write_headers(std::string& out, std::uint32_t stream_id, std::string_view header_block,
                   bool end_stream, std::uint32_t max_frame_size);

/// One DATA frame; the caller has cut `data` to the peer's max frame size and
/// to the flow-control windows.
void write_data(std::string& out, std::uint32_t stream_id, std::string_view data, bool end_stream);

/// `increment` in [1, 2^31-1]; stream 0 is the connection window.
void write_window_update(std::string& out, std::uint32_t stream_id, std::uint32_t increment);
void write_rst_stream(std::string& out, std::uint32_t stream_id, error_code code);
void write_ping(std::string& out, std::uint64_t opaque, bool ack = false);

/// GOAWAY. `debug_data` is cut to what a 16,384-byte frame holds: every peer
/// accepts that size, and debug text is only a hint.
void write_goaway(std::string& out, std::uint32_t last_stream_id, error_code code,
                  std::string_view debug_data = {});

// --- Template definitions.

template <typename Fn>
void for_each_setting(std::string_view payload, Fn&& fn) {
  constexpr std::size_t entry = 6;
  for (std::size_t at = 0; at + entry <= payload.size(); at += entry) {
    auto byte = [&](std::size_t i) -> std::uint32_t {
      return static_cast<unsigned char>(payload[at + i]);
    };
    fn(setting{static_cast<std::uint16_t>(byte(0) << 8 | byte(1)),
               byte(2) << 24 | byte(3) << 16 | byte(4) << 8 | byte(5)});
  }
}

}  // namespace keyless::http::h2
