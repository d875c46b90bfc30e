#include "http/h2/frame.hpp"

#include <array>

#include <fmt/core.h>

namespace keyless::http::h2 {
namespace {

// GOAWAY holds the last stream id and the error code before its debug data.
constexpr std::size_t goaway_fixed_size = 8;

std::uint32_t get_u32(std::string_view bytes, std::size_t at) noexcept {
  auto byte = [&](std::size_t i) -> std::uint32_t {
    return static_cast<unsigned char>(bytes[at + i]);
  };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

void put_u32(std::string& out, std::uint32_t v) {
  const std::array<char, 4> bytes{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                                  static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes.data(), bytes.size());
}

void check_stream_id(std::uint32_t id) {
  if (id > max_stream_id) throw_invalid_argument(fmt::format("stream id {} is over 2^31-1", id));
}

void check_stream_not_zero(std::uint32_t id, frame_type type) {
  check_stream_id(id);
  if (id == 0) throw_invalid_argument(fmt::format("{} frame on stream 0", to_string(type)));
}

void check_payload(std::string_view payload, std::size_t size, frame_type type) {
  if (payload.size() < size) {
    throw_invalid_argument(fmt::format("{} payload of {} bytes is shorter than its {}-byte layout",
                                       to_string(type), payload.size(), size));
  }
}

// The header alone; write_frame checks the arguments first.
void put_header(std::string& out, const frame_header& h) {
  const std::array<char, frame_header_size> bytes{
      static_cast<char>(h.length >> 16),    static_cast<char>(h.length >> 8),
      static_cast<char>(h.length),          static_cast<char>(h.type),
      static_cast<char>(h.flags),           static_cast<char>(h.stream_id >> 24),
      static_cast<char>(h.stream_id >> 16), static_cast<char>(h.stream_id >> 8),
      static_cast<char>(h.stream_id)};
  out.append(bytes.data(), bytes.size());
}

}  // namespace

std::string_view to_string(frame_type t) noexcept {
  switch (t) {
    case frame_type::data:
      return "DATA";
    case frame_type::headers:
      return "HEADERS";
    case frame_type::priority:
      return "PRIORITY";
    case frame_type::rst_stream:
      return "RST_STREAM";
    case frame_type::settings:
      return "SETTINGS";
    case frame_type::push_promise:
      return "PUSH_PROMISE";
    case frame_type::ping:
      return "PING";
    case frame_type::goaway:
      return "GOAWAY";
    case frame_type::window_update:
      return "WINDOW_UPDATE";
    case frame_type::continuation:
      return "CONTINUATION";
  }
  return "unknown";
}

std::string_view to_string(error_code e) noexcept {
  switch (e) {
    case error_code::no_error:
      return "NO_ERROR";
    case error_code::protocol_error:
      return "PROTOCOL_ERROR";
    case error_code::internal_error:
      return "INTERNAL_ERROR";
    case error_code::flow_control_error:
      return "FLOW_CONTROL_ERROR";
    case error_code::settings_timeout:
      return "SETTINGS_TIMEOUT";
    case error_code::stream_closed:
      return "STREAM_CLOSED";
    case error_code::frame_size_error:
      return "FRAME_SIZE_ERROR";
    case error_code::refused_stream:
      return "REFUSED_STREAM";
    case error_code::cancel:
      return "CANCEL";
    case error_code::compression_error:
      return "COMPRESSION_ERROR";
    case error_code::connect_error:
      return "CONNECT_ERROR";
    case error_code::enhance_your_calm:
      return "ENHANCE_YOUR_CALM";
    case error_code::inadequate_security:
      return "INADEQUATE_SECURITY";
    case error_code::http_1_1_required:
      return "HTTP_1_1_REQUIRED";
  }
  return "unknown error code";
}

connection_error::connection_error(error_code h2_code, const std::string& message, errc code)
    : keyless::error(code, message), h2_code_(h2_code) {}

frame_header read_frame_header(std::string_view bytes) noexcept {
  auto byte = [&](std::size_t i) -> std::uint32_t {
    return static_cast<unsigned char>(bytes[i]);
  };
  frame_header h;
  h.length = byte(0) << 16 | byte(1) << 8 | byte(2);
  h.type = static_cast<frame_type>(byte(3));
  h.flags = static_cast<std::uint8_t>(byte(4));
  h.stream_id = read_stream_id(bytes.substr(5));
  return h;
}

std::uint32_t read_stream_id(std::string_view bytes) noexcept {
  return get_u32(bytes, 0) & max_stream_id;
}

std::uint32_t read_window_increment(std::string_view payload) {
  check_payload(payload, 4, frame_type::window_update);
  return get_u32(payload, 0) & max_window_size;
}

error_code read_rst_stream(std::string_view payload) {
  check_payload(payload, 4, frame_type::rst_stream);
  return static_cast<error_code>(get_u32(payload, 0));
}

std::uint64_t read_ping(std::string_view payload) {
  check_payload(payload, 8, frame_type::ping);
  return std::uint64_t{get_u32(payload, 0)} << 32 | get_u32(payload, 4);
}

goaway_frame read_goaway(std::string_view payload) {
  check_payload(payload, goaway_fixed_size, frame_type::goaway);
  return {read_stream_id(payload), static_cast<error_code>(get_u32(payload, 4)),
          payload.substr(goaway_fixed_size)};
}

void write_frame(std::string& out, frame_header header, std::string_view payload) {
  check_stream_id(header.stream_id);
  if (payload.size() > largest_max_frame_size) {
    throw_invalid_argument(fmt::format("{} payload of {} bytes does not fit a frame (at most {})",
                                       to_string(header.type), payload.size(),
                                       largest_max_frame_size));
  }
  header.length = static_cast<std::uint32_t>(payload.size());
  put_header(out, header);
  out.append(payload);
}

void write_settings(std::string& out, std::span<const setting> settings) {
  constexpr std::size_t entry = 6;
  if (settings.size() > largest_max_frame_size / entry) {
    throw_invalid_argument(fmt::format("{} settings do not fit a frame", settings.size()));
  }
  const auto length = static_cast<std::uint32_t>(settings.size() * entry);
  put_header(out, {length, frame_type::settings, 0, 0});
  for (const setting& s : settings) {
    out += static_cast<char>(s.id >> 8);
    out += static_cast<char>(s.id);
    put_u32(out, s.value);
  }
}

void write_settings_ack(std::string& out) {
  put_header(out, {0, frame_type::settings, flag::ack, 0});
}

void write_headers(std::string& out, std::uint32_t stream_id, std::string_view header_block,
                   bool end_stream, std::uint32_t max_frame_size) {
  check_stream_not_zero(stream_id, frame_type::headers);
  if (max_frame_size < default_max_frame_size || max_frame_size > largest_max_frame_size) {
    throw_invalid_argument(fmt::format("max frame size {} is outside [{}, {}]", max_frame_size,
                                       default_max_frame_size, largest_max_frame_size));
  }
  std::string_view piece = header_block.substr(0, max_frame_size);
  std::string_view rest = header_block.substr(piece.size());
  std::uint8_t flags = end_stream ? flag::end_stream : 0;
  frame_type type = frame_type::headers;
  for (;;) {
    if (rest.empty()) flags |= flag::end_headers;
    put_header(out, {static_cast<std::uint32_t>(piece.size()), type, flags, stream_id});
    out.append(piece);
    if (rest.empty()) return;
    piece = rest.substr(0, max_frame_size);
    rest.remove_prefix(piece.size());
    type = frame_type::continuation;
    flags = 0;  // END_STREAM belongs to the HEADERS frame only
  }
}

void write_data(std::string& out, std::uint32_t stream_id, std::string_view data, bool end_stream) {
  check_stream_not_zero(stream_id, frame_type::data);
  write_frame(
      out, {0, frame_type::data, end_stream ? flag::end_stream : std::uint8_t{0}, stream_id}, data);
}

void write_window_update(std::string& out, std::uint32_t stream_id, std::uint32_t increment) {
  check_stream_id(stream_id);
  if (increment == 0 || increment > max_window_size) {
    throw_invalid_argument(fmt::format("window increment {} is outside [1, 2^31-1]", increment));
  }
  put_header(out, {4, frame_type::window_update, 0, stream_id});
  put_u32(out, increment);
}

void write_rst_stream(std::string& out, std::uint32_t stream_id, error_code code) {
  check_stream_not_zero(stream_id, frame_type::rst_stream);
  put_header(out, {4, frame_type::rst_stream, 0, stream_id});
  put_u32(out, static_cast<std::uint32_t>(code));
}

void write_ping(std::string& out, std::uint64_t opaque, bool ack) {
  put_header(out, {8, frame_type::ping, ack ? flag::ack : std::uint8_t{0}, 0});
  put_u32(out, static_cast<std::uint32_t>(opaque >> 32));
  put_u32(out, static_cast<std::uint32_t>(opaque));
}

void write_goaway(std::string& out, std::uint32_t last_stream_id, error_code code,
                  std::string_view debug_data) {
  check_stream_id(last_stream_id);
  debug_data = debug_data.substr(0, default_max_frame_size - goaway_fixed_size);
  const auto length = static_cast<std::uint32_t>(goaway_fixed_size + debug_data.size());
  put_header(out, {length, frame_type::goaway, 0, 0});
  put_u32(out, last_stream_id);
  put_u32(out, static_cast<std::uint32_t>(code));
  out.append(debug_data);
}

void throw_invalid_argument(const std::string& what) {
  throw keyless::error(errc::invalid_argument, "HTTP/2: " + what);
}

void throw_peer_error(error_code code, const std::string& what) {
  throw connection_error(code, "HTTP/2: " + what);
}

void check_window_option(std::string_view what, std::uint32_t size) {
  if (size < default_initial_window_size || size > max_window_size) {
    throw_invalid_argument(fmt::format("{} of {} is outside [65535, 2^31-1]", what, size));
  }
}

}  // namespace keyless::http::h2
