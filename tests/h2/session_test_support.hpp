#pragma once
// A scripted HTTP/2 server for client session tests, made of the frame
// writers, a frame reader and an HPACK pair: it reads what the client wrote
// and builds the frames a server would answer with. Plus a recorder that
// turns session events into comparable lines.

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "event_lines.hpp"
#include "http/h2/client_session.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"

namespace h2_test {

namespace h2 = keyless::http::h2;

struct decoded {
  std::string name;
  std::string value;
  bool never_indexed = false;
};

/// One frame the client sent, copied out of the reader.
struct client_frame {
  h2::frame_header header;
  std::string payload;          // for HEADERS: the whole header block
  std::vector<decoded> fields;  // HEADERS: the decoded block

  std::string field_lines() const {
    std::string out;
    for (const auto& f : fields) out += fmt::format("{}: {}\n", f.name, f.value);
    return out;
  }
};

using field_list = std::vector<std::pair<std::string_view, std::string_view>>;

class test_server {
 public:
  test_server() : reader_(client_reader_options()) {}

  /// Reads everything in `client_out` (the preface first, on the first
  /// call), then clears it.
  std::vector<client_frame> read(std::string& client_out) {
    std::string_view rest = client_out;
    if (!preface_seen_) {
      BOOST_REQUIRE(rest.starts_with(h2::client_preface));
      rest.remove_prefix(h2::client_preface.size());
      preface_seen_ = true;
    }
    std::vector<client_frame> frames;
    for (;;) {
      h2::read_result r = reader_.feed(rest);
      rest.remove_prefix(r.consumed);
      if (r.event == h2::read_event::need_more) break;
      BOOST_REQUIRE(r.event == h2::read_event::frame);
      client_frame f{r.header, std::string(r.payload), {}};
      if (r.header.type == h2::frame_type::headers) {
        decoder.decode(r.payload, [&f](const h2::decoded_field& d) {
          f.fields.push_back({std::string(d.name), std::string(d.value), d.never_indexed});
        });
      }
      frames.push_back(std::move(f));
    }
    client_out.clear();
    return frames;
  }

  /// A header block from the server's encoder, as HEADERS (+ CONTINUATION).
  std::string headers(std::uint32_t stream, const field_list& fields, bool end_stream,
                      std::uint32_t max_frame_size = h2::default_max_frame_size) {
    std::string block;
    encoder.begin_block(block);
    for (const auto& [name, value] : fields) encoder.encode(block, name, value);
    std::string out;
    h2::write_headers(out, stream, block, end_stream, max_frame_size);
    return out;
  }

  static std::string settings(std::initializer_list<h2::setting> values = {}) {
    std::string out;
    h2::write_settings(out, std::vector<h2::setting>(values));
    return out;
  }

  static std::string data(std::uint32_t stream, std::string_view bytes, bool end_stream) {
    std::string out;
    h2::write_data(out, stream, bytes, end_stream);
    return out;
  }

  h2::encoder encoder;
  h2::decoder decoder;

 private:
  static h2::reader_options client_reader_options() {
    h2::reader_options o;
    o.expect_server_preface = false;  // the client's SETTINGS follow the preface string
    o.max_frame_size = h2::largest_max_frame_size;
    return o;
  }

  h2::frame_reader reader_;
  bool preface_seen_ = false;
};

/// Records session events as lines; can consume data as it arrives.
struct recorder : h2::session_events {
  std::vector<std::string> lines;
  std::vector<std::string> messages;  // of on_failed, in order
  std::vector<std::pair<std::uint32_t, std::size_t>> to_consume;

  void on_response_head(std::uint32_t id, int status,
                        std::span<const h2::field_view> fields) override {
    lines.push_back(fmt::format("head {} {}{}", id, status, joined(fields)));
  }
  void on_data(std::uint32_t id, std::string_view data) override {
    lines.push_back(fmt::format("data {} {}", id, data.size() <= 32 ? data : "<long>"));
    to_consume.emplace_back(id, data.size());
  }
  void on_end(std::uint32_t id, std::span<const h2::field_view> trailers) override {
    lines.push_back(fmt::format("end {}{}", id, joined(trailers)));
  }
  void on_failed(std::uint32_t id, const h2::stream_failure& f) override {
    lines.push_back(failed_line(id, f));
    messages.emplace_back(f.message);
  }
  void on_goaway(std::uint32_t last, h2::error_code code, std::string_view) override {
    lines.push_back(goaway_line(last, code));
  }

  std::string text() const { return lines_text(lines); }

 private:
  static std::string joined(std::span<const h2::field_view> fields) {
    std::string out;
    for (const auto& f : fields) out += fmt::format(" {}={}", f.name, f.value);
    return out;
  }
};

/// A session, the server it talks to and the bytes between them.
struct connection {
  explicit connection(h2::session_options options = {}) : session(options) { session.start(out); }

  /// The server's bytes reach the client.
  void deliver(std::string_view bytes) { session.receive(bytes, out, events); }

  /// What the client has written since the last call.
  std::vector<client_frame> sent() { return server.read(out); }

  /// The usual start: the client's preface is read, the server's SETTINGS
  /// and its ACK of ours are delivered, the client's ACK is read.
  void handshake(std::initializer_list<h2::setting> server_settings = {}) {
    sent();
    deliver(test_server::settings(server_settings));
    std::string ack;
    h2::write_settings_ack(ack);
    deliver(ack);
    sent();
  }

  /// Hands back every byte delivered so far.
  void consume_all() {
    for (auto [id, n] : events.to_consume) session.consume(id, n, out);
    events.to_consume.clear();
  }

  h2::client_session session;
  test_server server;
  recorder events;
  std::string out;
};

}  // namespace h2_test
