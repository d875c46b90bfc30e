#include "http/h2/settings.hpp"

#include <fmt/core.h>

namespace keyless::http::h2 {

void check_setting(setting s, peer_role sender) {
  switch (static_cast<setting_id>(s.id)) {
    case setting_id::enable_push:
      if (s.value == 1 && sender == peer_role::server) {
        throw connection_error(error_code::protocol_error,
                               "HTTP/2: server sent SETTINGS_ENABLE_PUSH = 1 (only clients may)");
      }
      if (s.value > 1) {
        throw connection_error(
            error_code::protocol_error,
            fmt::format("HTTP/2: SETTINGS_ENABLE_PUSH = {} (must be 0 or 1)", s.value));
      }
      break;
    case setting_id::initial_window_size:
      if (s.value > max_window_size) {
        throw connection_error(
            error_code::flow_control_error,
            fmt::format("HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE = {} (over 2^31-1)", s.value));
      }
      break;
    case setting_id::max_frame_size:
      if (s.value < default_max_frame_size || s.value > largest_max_frame_size) {
        throw connection_error(
            error_code::protocol_error,
            fmt::format("HTTP/2: SETTINGS_MAX_FRAME_SIZE = {} (must be in [{}, {}])", s.value,
                        default_max_frame_size, largest_max_frame_size));
      }
      break;
    default:
      break;
  }
}

void check_server_setting(setting s) {
  check_setting(s, peer_role::server);
}

void apply_settings(std::string_view payload, peer_settings& settings, peer_role sender) {
  for_each_setting(payload, [&](setting s) {
    check_setting(s, sender);
    switch (static_cast<setting_id>(s.id)) {
      case setting_id::header_table_size:
        settings.header_table_size = s.value;
        break;
      case setting_id::max_concurrent_streams:
        settings.max_concurrent_streams = s.value;
        break;
      case setting_id::initial_window_size:
        settings.initial_window_size = s.value;
        break;
      case setting_id::max_frame_size:
        settings.max_frame_size = s.value;
        break;
      case setting_id::max_header_list_size:
        settings.max_header_list_size = s.value;
        break;
      case setting_id::enable_push:
        break;  // 0 from a server; a client's choice does not matter: we never push
    }
  });
}

}  // namespace keyless::http::h2
