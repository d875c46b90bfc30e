#pragma once
// What both ends of an HTTP/2 connection keep about the connection as a
// whole: the HPACK tables, the peer's SETTINGS and ours awaiting an ACK,
// the connection flow windows and the streams reset lately. client_session
// and server_session each own one; the rules that differ between the two
// ends (streams, GOAWAY, failures) stay in the sessions. Header-only so
// that the sessions share it without a source file of its own.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "http/h2/flow_window.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/settings.hpp"
#include "keyless/core/error.hpp"

namespace keyless::http::h2 {

/// Who reset a stream that is now closed.
enum class reset_by : std::uint8_t { us, peer };

/// The last `capacity` streams that were reset. RFC 9113 5.1: after we send
/// RST_STREAM the peer may still have frames for the stream in flight,
/// which we must ignore; after it sends one, more frames are a stream error.
/// A stream that has dropped out of this memory is treated as closed
/// normally: DATA or HEADERS on it end the connection (STREAM_CLOSED).
class reset_memory {
 public:
  static constexpr std::size_t capacity = 128;

  void remember(std::uint32_t id, reset_by who) noexcept {
    entries_[next_] = id | (who == reset_by::peer ? peer_bit : 0);
    next_ = (next_ + 1) % capacity;
  }

  /// The latest reset of `id`, if it is still remembered.
  std::optional<reset_by> find(std::uint32_t id) const noexcept {
    for (std::size_t back = 1; back <= capacity; ++back) {
      const std::uint32_t e = entries_[(next_ + capacity - back) % capacity];
      if (e != 0 && (e & ~peer_bit) == id) return e & peer_bit ? reset_by::peer : reset_by::us;
    }
    return std::nullopt;
  }

 private:
  static constexpr std::uint32_t peer_bit = 0x8000'0000;  // stream ids use 31 bits

  std::array<std::uint32_t, capacity> entries_{};
  std::size_t next_ = 0;
};

/// Checks the window sizes of session options (client or server); returns
/// them for use in a member initializer list.
template <class Options>
const Options& checked_window_options(const Options& o) {
  check_window_option("stream window", o.stream_window);
  check_window_option("connection window", o.connection_window);
  return o;
}

struct connection_state {
  /// `Options` is session_options or server_session_options; `sender` is
  /// the role of the peer whose frames we read.
  template <class Options>
  connection_state(const Options& o, peer_role sender)
      : reader(reading_from(sender, o.max_header_list_size)),
        header_encoder(initial_header_table_size),
        header_decoder(initial_header_table_size, o.max_header_list_size),
        receive(o.connection_window, default_initial_window_size),
        peer_role_(sender),
        header_table_size_(o.header_table_size),
        max_encoder_table_size_(o.max_encoder_table_size) {
    if (max_encoder_table_size_ < initial_header_table_size) {
      header_encoder.set_max_table_size(max_encoder_table_size_);
    }
  }

  /// Appends our SETTINGS, then the connection window beyond its initial
  /// 65,535.
  void send_settings(std::span<const setting> settings, std::string& out) {
    write_settings(out, settings);
    ++settings_unacknowledged;
    announce_window(out);
  }

  /// Feeds `bytes` to the frame reader: each frame goes to `on_frame`, each
  /// frame that broke a rule of its stream only to `on_stream_error`.
  template <class OnFrame, class OnStreamError>
  void read_frames(std::string_view bytes, OnFrame&& on_frame, OnStreamError&& on_stream_error) {
    for (;;) {
      const read_result r = reader.feed(bytes);
      bytes.remove_prefix(r.consumed);
      if (r.event == read_event::need_more) return;
      if (r.event == read_event::stream_error) {
        on_stream_error(r);
      } else {
        on_frame(r);
      }
    }
  }

  /// SETTINGS from the peer: an ACK of ours, or values to apply and
  /// acknowledge. A change of SETTINGS_INITIAL_WINDOW_SIZE calls
  /// `move_stream_windows(old_size, new_size)` before the ACK goes out, as
  /// it may fail the connection. Returns false for an ACK.
  template <class MoveStreamWindows>
  bool on_settings(const read_result& r, std::string& out,
                   MoveStreamWindows&& move_stream_windows) {
    if (r.header.has(flag::ack)) {
      if (settings_unacknowledged == 0) {
        throw_peer_error(error_code::protocol_error,
                         "SETTINGS ACK without a SETTINGS frame of ours");
      }
      // Our smaller table holds only once the peer has seen it.
      if (--settings_unacknowledged == 0 && !settings_acknowledged) {
        settings_acknowledged = true;
        header_decoder.set_max_table_size(header_table_size_);
      }
      return false;
    }
    const peer_settings before = peer;
    apply_settings(r.payload, peer, peer_role_);
    if (peer.header_table_size != before.header_table_size) {
      header_encoder.set_max_table_size(std::min(peer.header_table_size, max_encoder_table_size_));
    }
    if (peer.initial_window_size != before.initial_window_size) {
      move_stream_windows(before.initial_window_size, peer.initial_window_size);
    }
    write_settings_ack(out);
    return true;
  }

  /// Appends RST_STREAM for `id` and remembers it, so that the frames the
  /// peer sent before seeing it are ignored rather than refused.
  void send_reset(std::uint32_t id, error_code code, std::string& out) {
    write_rst_stream(out, id, code);
    resets.remember(id, reset_by::us);
  }

  void answer_ping(const read_result& r, std::string& out) {
    if (!r.header.has(flag::ack)) write_ping(out, read_ping(r.payload), true);
  }

  /// A WINDOW_UPDATE on stream 0.
  void grow_send_window(std::uint32_t increment) {
    if (!send.grow(increment)) {
      throw_peer_error(
          error_code::flow_control_error,
          fmt::format("WINDOW_UPDATE of {} takes the connection's send window over 2^31-1",
                      increment));
    }
  }

  /// Counts a DATA frame (padding included) against the connection's
  /// receive window, whatever stream it is on.
  void receive_data(const read_result& r) {
    const std::uint32_t length = r.header.length;
    if (!receive.receive(length)) {
      throw_peer_error(
          error_code::flow_control_error,
          fmt::format("DATA frame of {} bytes on stream {} is over the connection's receive "
                      "window of {}",
                      length, r.header.stream_id, receive.available()));
    }
  }

  /// Decodes a header block into `fields` (request_fields or
  /// response_fields); HPACK errors end the connection.
  template <class Fields>
  void decode_block(Fields& fields, const read_result& r) {
    try {
      fields.decode(header_decoder, r.payload);
    } catch (const keyless::error& e) {
      const bool too_large = e.code() == errc::limit_exceeded;
      throw connection_error(
          too_large ? error_code::enhance_your_calm : error_code::compression_error,
          fmt::format("{} (header block on stream {})", e.message(), r.header.stream_id),
          too_large ? errc::limit_exceeded : errc::malformed_response);
    }
  }

  /// Appends the WINDOW_UPDATEs due: for `s` (a client_stream or
  /// server_stream, or nullptr) while it receives, then for the connection.
  template <class Stream>
  void announce_windows(Stream* s, std::string& out) {
    if (s != nullptr && s->receiving) {
      if (const std::uint32_t increment = s->receive.take_update()) {
        write_window_update(out, s->id, increment);
      }
    }
    announce_window(out);
  }

  void announce_window(std::string& out) {
    if (const std::uint32_t increment = receive.take_update()) {
      write_window_update(out, 0, increment);
    }
  }

  frame_reader reader;
  encoder header_encoder;
  decoder header_decoder;
  peer_settings peer;
  send_window send;        // the connection's, for DATA we send
  receive_window receive;  // the connection's, for DATA we receive
  reset_memory resets;
  int settings_unacknowledged = 0;
  bool settings_acknowledged = false;

 private:
  static reader_options reading_from(peer_role sender, std::uint32_t max_header_list_size) {
    reader_options o;
    o.max_header_block = max_header_list_size;
    o.peer = sender;
    return o;
  }

  peer_role peer_role_;
  std::uint32_t header_table_size_;
  std::uint32_t max_encoder_table_size_;
};

}  // namespace keyless::http::h2
