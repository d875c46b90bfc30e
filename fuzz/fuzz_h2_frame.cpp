// libFuzzer target for the HTTP/2 frame reader. The input is what a server
// sends a client (no client preface). It is read whole, split at a position
// taken from its first byte and, when short, byte by byte: every way must
// give the same events and the same connection error. Every frame that
// parsed is written again with the writers and must read back the same.
// connection_error is an expected outcome; any other exception escapes and is
// reported as a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/settings.hpp"
#include "keyless/core/error.hpp"

namespace {

namespace h2 = keyless::http::h2;

void check(bool ok) {
  if (!ok) std::abort();
}

// What a frame means once the wire details (padding, a header block's
// split, reserved bits, unused flags) are set aside.
struct meaning {
  h2::read_event kind = h2::read_event::need_more;
  h2::frame_type type = h2::frame_type::data;
  std::uint32_t stream_id = 0;
  bool flag = false;         // END_STREAM (DATA, HEADERS) or ACK (SETTINGS, PING)
  std::uint32_t number = 0;  // promised or last stream id, increment, stream error code
  std::string payload;
  bool operator==(const meaning&) const = default;
};

meaning meaning_of(const h2::read_result& r) {
  meaning m;
  m.kind = r.event;
  m.type = r.header.type;
  m.stream_id = r.header.stream_id;
  if (r.event == h2::read_event::stream_error) {
    m.number = static_cast<std::uint32_t>(r.stream_error);
    return m;
  }
  switch (r.header.type) {
    case h2::frame_type::data:
    case h2::frame_type::headers:
      m.flag = r.header.has(h2::flag::end_stream);
      break;
    case h2::frame_type::settings:
    case h2::frame_type::ping:
      m.flag = r.header.has(h2::flag::ack);
      break;
    default:
      break;
  }
  m.payload = r.payload;
  if (r.header.type == h2::frame_type::push_promise) m.number = r.promised_stream_id;
  // Fields behind a reserved bit compare by value: the writers clear the bit.
  if (r.header.type == h2::frame_type::window_update) {
    m.number = h2::read_window_increment(r.payload);
    m.payload.clear();
  }
  if (r.header.type == h2::frame_type::goaway) {
    m.number = h2::read_goaway(r.payload).last_stream_id;
    m.payload.erase(0, 4);
  }
  return m;
}

struct outcome {
  std::vector<meaning> events;
  std::vector<std::string> rewritten;  // each frame event, written again
  std::string error;
  std::uint32_t h2_code = 0;
  bool operator==(const outcome&) const = default;
};

// The frame behind `r`, written again by the writers. Empty for frames they
// cannot make alone: without assembly, CONTINUATION frames and header blocks
// lacking END_HEADERS.
std::string rewrite(const h2::read_result& r) {
  std::string out;
  const h2::frame_header& h = r.header;
  switch (h.type) {
    case h2::frame_type::data:
      h2::write_data(out, h.stream_id, r.payload, h.has(h2::flag::end_stream));
      break;
    case h2::frame_type::headers:
      if (!h.has(h2::flag::end_headers)) break;
      h2::write_headers(out, h.stream_id, r.payload, h.has(h2::flag::end_stream),
                        h2::default_max_frame_size);
      break;
    case h2::frame_type::push_promise: {
      if (!h.has(h2::flag::end_headers)) break;
      std::string payload(4, '\0');
      for (int i = 0; i < 4; ++i)
        payload[i] = static_cast<char>(r.promised_stream_id >> (24 - 8 * i));
      payload += r.payload;
      h2::write_frame(out, {0, h.type, h2::flag::end_headers, h.stream_id}, payload);
      break;
    }
    case h2::frame_type::settings:
      if (h.has(h2::flag::ack)) {
        h2::write_settings_ack(out);
      } else {
        std::vector<h2::setting> list;
        h2::for_each_setting(r.payload, [&](h2::setting s) { list.push_back(s); });
        h2::write_settings(out, list);
      }
      break;
    case h2::frame_type::ping:
      h2::write_ping(out, h2::read_ping(r.payload), h.has(h2::flag::ack));
      break;
    case h2::frame_type::window_update:
      h2::write_window_update(out, h.stream_id, h2::read_window_increment(r.payload));
      break;
    case h2::frame_type::rst_stream:
      h2::write_rst_stream(out, h.stream_id, h2::read_rst_stream(r.payload));
      break;
    case h2::frame_type::goaway: {
      auto g = h2::read_goaway(r.payload);
      h2::write_goaway(out, g.last_stream_id, g.code, g.debug_data);
      break;
    }
    case h2::frame_type::priority:
      h2::write_frame(out, {0, h.type, 0, h.stream_id}, r.payload);
      break;
    default:
      break;
  }
  return out;
}

// Invariants of one event, whatever the input.
void check_event(const h2::read_result& r, const h2::reader_options& options) {
  check(h2::is_known(r.header.type));
  check(r.header.length <= options.max_frame_size);
  check(r.header.stream_id <= h2::max_stream_id);
  if (r.event == h2::read_event::stream_error) {
    check(r.header.stream_id != 0);
    check(r.message.starts_with("HTTP/2: "));
    return;
  }
  check(r.event == h2::read_event::frame);
  check(r.header.type != h2::frame_type::continuation || !options.assemble_header_blocks);
  bool block =
      r.header.type == h2::frame_type::headers || r.header.type == h2::frame_type::push_promise;
  if (block && options.assemble_header_blocks) {
    check(r.header.has(h2::flag::end_headers));
    check(r.payload.size() <= options.max_header_block);
  } else {
    check(r.payload.size() <= r.header.length);
  }
  if (r.header.type == h2::frame_type::settings && !r.header.has(h2::flag::ack)) {
    h2::peer_settings applied;
    h2::apply_settings(r.payload, applied);  // checked already: must not throw
    check(applied.max_frame_size >= h2::default_max_frame_size);
  }
}

// Reads `input` in pieces of the given sizes (the last piece takes the rest).
outcome run(std::string_view input, const h2::reader_options& options,
            const std::vector<std::size_t>& sizes, bool rewrite_frames) {
  outcome o;
  h2::frame_reader reader(options);
  std::size_t next = 0;
  try {
    while (!input.empty() || next == 0) {
      std::size_t size = next < sizes.size() ? sizes[next] : input.size();
      ++next;
      std::string_view rest = input.substr(0, size);
      input.remove_prefix(rest.size());
      for (;;) {
        h2::read_result r = reader.feed(rest);
        check(r.consumed <= rest.size());
        rest.remove_prefix(r.consumed);
        if (r.event == h2::read_event::need_more) {
          check(rest.empty());
          break;
        }
        check(r.consumed > 0);  // progress: no endless loop
        check_event(r, options);
        o.events.push_back(meaning_of(r));
        if (rewrite_frames && r.event == h2::read_event::frame) o.rewritten.push_back(rewrite(r));
      }
      if (input.empty()) break;
    }
  } catch (const h2::connection_error& e) {
    check(e.message().starts_with("HTTP/2: "));
    check(e.code() == keyless::errc::malformed_response ||
          e.code() == keyless::errc::limit_exceeded);
    check(e.h2_code() <= h2::error_code::http_1_1_required);
    o.error = e.message();
    o.h2_code = static_cast<std::uint32_t>(e.h2_code());
  }
  return o;
}

// A rewritten frame, read after an empty SETTINGS frame, must mean what the
// original meant.
void check_reads_back(const std::string& bytes, const meaning& original,
                      const h2::reader_options& options) {
  if (bytes.empty()) return;
  std::string stream;
  h2::write_settings(stream, {});
  stream += bytes;
  outcome again = run(stream, options, {}, false);
  check(again.error.empty());
  check(again.events.size() == 2);
  check(again.events[1] == original);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  h2::reader_options assembling;
  assembling.max_header_block = 4096;  // small, so the limit is reached; fits one PUSH_PROMISE
  h2::reader_options fragments;
  fragments.assemble_header_blocks = false;
  for (const h2::reader_options& options : {assembling, fragments}) {
    const outcome whole = run(input, options, {}, true);
    check(whole.rewritten.size() <= whole.events.size());
    std::size_t r = 0;
    for (const meaning& m : whole.events) {
      if (m.kind != h2::read_event::frame) continue;
      check_reads_back(whole.rewritten[r++], m, options);
    }
    outcome expected = whole;
    expected.rewritten.clear();
    if (size > 0) {
      std::size_t cut = (static_cast<std::size_t>(data[0]) * 257 + size) % (size + 1);
      check(run(input, options, {cut}, false) == expected);
    }
    if (size <= 4096) {
      check(run(input, options, std::vector<std::size_t>(size, 1), false) == expected);
    }
  }
  return 0;
}
