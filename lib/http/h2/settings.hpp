#pragma once
// The settings a peer announces (RFC 9113 6.5.2): which values are legal,
// and what they add up to once applied.

#include <cstdint>
#include <string_view>

#include "http/h2/frame.hpp"

namespace keyless::http::h2 {

/// The peer's settings as they stand: RFC 9113's initial values until its
/// SETTINGS frames change them. (SETTINGS_ENABLE_PUSH is missing: a client
/// receives no pushes, and a server never pushes, whatever its client allows.)
struct peer_settings {
  static constexpr std::uint32_t unlimited = 0xffff'ffff;

  std::uint32_t header_table_size = 4'096;  ///< for our HPACK encoder
  std::uint32_t max_concurrent_streams = unlimited;
  std::uint32_t initial_window_size = default_initial_window_size;  ///< new streams' send window
  std::uint32_t max_frame_size = default_max_frame_size;            ///< largest payload we may send
  std::uint32_t max_header_list_size = unlimited;                   ///< advisory
  bool operator==(const peer_settings&) const = default;
};

/// Throws connection_error when a server may not send `s`: SETTINGS_ENABLE_PUSH
/// other than 0 (PROTOCOL_ERROR; 1 is for clients only),
/// SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1 (FLOW_CONTROL_ERROR) or
/// SETTINGS_MAX_FRAME_SIZE outside [16384, 16777215] (PROTOCOL_ERROR).
/// Unknown identifiers are fine: they are ignored.
void check_server_setting(setting s);

/// check_server_setting for a server's `s`; for a client's, the same but
/// that SETTINGS_ENABLE_PUSH may also be 1.
void check_setting(setting s, peer_role sender);

/// Applies the entries of a SETTINGS payload (not an ACK) from `sender` in
/// order, each checked by check_setting first. To see what changed, compare with a
/// copy: a new initial_window_size moves every stream's send window by the
/// difference (send_window::apply_initial_window_change), a new
/// header_table_size bounds the HPACK encoder's table.
void apply_settings(std::string_view payload, peer_settings& settings,
                    peer_role sender = peer_role::server);

}  // namespace keyless::http::h2
