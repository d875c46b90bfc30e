#pragma once
// Session events and frames as comparable text, for the client and server
// session tests alike.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "http/h2/client_session.hpp"
#include "http/h2/frame.hpp"

namespace h2_test {

namespace h2 = keyless::http::h2;

/// The lines, each ended by a newline.
inline std::string lines_text(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

inline std::string failed_line(std::uint32_t id, const h2::stream_failure& f) {
  return fmt::format("failed {} kind={} {}{}", id, static_cast<int>(f.kind),
                     h2::to_string(f.h2_code), f.retryable ? " retryable" : "");
}

inline std::string goaway_line(std::uint32_t last_stream_id, h2::error_code code) {
  return fmt::format("goaway {} {}", last_stream_id, h2::to_string(code));
}

/// The RST_STREAMs and GOAWAYs among `frames` (anything with a frame_header
/// `header` and a `payload`), as "RST_STREAM <id> <code>;" and
/// "GOAWAY [<last id>] <code>;".
template <class Frame>
std::string resets_and_goaways(const std::vector<Frame>& frames, bool with_last_stream_id) {
  std::string out;
  for (const auto& f : frames) {
    if (f.header.type == h2::frame_type::rst_stream) {
      out += fmt::format("RST_STREAM {} {};", f.header.stream_id,
                         h2::to_string(h2::read_rst_stream(f.payload)));
    } else if (f.header.type == h2::frame_type::goaway) {
      const h2::goaway_frame g = h2::read_goaway(f.payload);
      out += with_last_stream_id
                 ? fmt::format("GOAWAY {} {};", g.last_stream_id, h2::to_string(g.code))
                 : fmt::format("GOAWAY {};", h2::to_string(g.code));
    }
  }
  return out;
}

}  // namespace h2_test
