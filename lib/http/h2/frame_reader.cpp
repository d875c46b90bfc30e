#include "http/h2/frame_reader.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "http/h2/settings.hpp"

namespace keyless::http::h2 {
namespace {

// Fixed fields in front of a header block fragment (RFC 9113 6.2, 6.6).
constexpr std::size_t priority_fields_size = 5;  // E + stream dependency, weight
constexpr std::size_t promised_id_size = 4;      // R + promised stream id

[[noreturn]] void fail(error_code code, const std::string& what) {
  throw connection_error(code, "HTTP/2: " + what);
}

std::string frame_name(const frame_header& h) {
  std::string name(to_string(h.type));
  if (!is_known(h.type)) name += fmt::format(" (type 0x{:02x})", static_cast<unsigned>(h.type));
  if (h.type == frame_type::settings && h.has(flag::ack)) name += " ACK";
  return name;
}

std::string wrong_length(const frame_header& h, std::string_view must) {
  return fmt::format("{} frame with a {}-byte payload (must be {})", frame_name(h), h.length, must);
}

bool needs_stream(frame_type t) noexcept {
  switch (t) {
    case frame_type::data:
    case frame_type::headers:
    case frame_type::priority:
    case frame_type::rst_stream:
    case frame_type::push_promise:
    case frame_type::continuation:
      return true;
    default:
      return false;
  }
}

bool needs_stream_zero(frame_type t) noexcept {
  return t == frame_type::settings || t == frame_type::ping || t == frame_type::goaway;
}

// The bytes between the pad length and the fragment (or the data).
std::size_t fixed_fields_size(const frame_header& h) noexcept {
  if (h.type == frame_type::push_promise) return promised_id_size;
  if (h.type == frame_type::headers && h.has(flag::priority)) return priority_fields_size;
  return 0;
}

bool is_padded(const frame_header& h) noexcept {
  bool may_pad = h.type == frame_type::data || h.type == frame_type::headers ||
                 h.type == frame_type::push_promise;
  return may_pad && h.has(flag::padded);
}

// What fixed_fields_size and the pad length byte are, for messages.
std::string_view fixed_fields_name(const frame_header& h) noexcept {
  const bool padded = is_padded(h);
  if (h.type == frame_type::push_promise) {
    return padded ? "pad length and promised stream id" : "promised stream id";
  }
  if (h.type == frame_type::headers && h.has(flag::priority)) {
    return padded ? "pad length and priority fields" : "priority fields";
  }
  return "pad length";
}

// need_more: every byte of `input` is used.
read_result all_used(std::string_view input) noexcept {
  read_result out;
  out.consumed = input.size();
  return out;
}

}  // namespace

frame_reader::frame_reader(reader_options options) : options_(options) {
  if (options_.max_frame_size < default_max_frame_size ||
      options_.max_frame_size > largest_max_frame_size) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("HTTP/2: max frame size {} is outside [{}, {}]", options_.max_frame_size,
                    default_max_frame_size, largest_max_frame_size));
  }
}

bool frame_reader::between_frames() const noexcept {
  return state_ == state::header && header_have_ == 0 && !in_block_;
}

read_result frame_reader::feed(std::string_view input) {
  if (failure_) throw *failure_;
  try {
    return read(input);
  } catch (const connection_error& e) {
    failure_ = e;
    throw;
  }
}

read_result frame_reader::read(std::string_view input) {
  std::size_t pos = 0;
  for (;;) {
    std::string_view rest = input.substr(pos);
    switch (state_) {
      case state::header: {
        if (rest.empty()) return all_used(input);
        std::size_t n = std::min(rest.size(), frame_header_size - header_have_);
        std::memcpy(header_bytes_.data() + header_have_, rest.data(), n);
        header_have_ += n;
        pos += n;
        if (header_have_ < frame_header_size) return all_used(input);
        header_have_ = 0;
        header_ = read_frame_header({header_bytes_.data(), header_bytes_.size()});
        check_header();
        break;
      }
      case state::payload: {
        std::size_t n = std::min(rest.size(), remaining_);
        std::string_view payload;
        if (buffer_.empty() && n == remaining_) {
          payload = rest.substr(0, n);  // whole in the input: no copy
        } else {
          buffer_.append(rest.data(), n);
          payload = buffer_;
        }
        pos += n;
        remaining_ -= n;
        if (remaining_ > 0) return all_used(input);
        state_ = state::header;
        read_result out;
        if (on_frame(payload, out)) {
          out.consumed = pos;
          return out;
        }
        break;
      }
      case state::skip: {
        std::size_t n = std::min(rest.size(), remaining_);
        pos += n;
        remaining_ -= n;
        if (remaining_ > 0) return all_used(input);
        state_ = state::header;
        if (stream_error_ != error_code::no_error) return stream_error_result(pos);
        break;
      }
    }
  }
}

// Everything the 9-byte header alone decides, so a bad frame fails before
// its payload is buffered.
void frame_reader::check_header() {
  if (header_.length > options_.max_frame_size) {
    fail(error_code::frame_size_error,
         fmt::format("{} frame of {} bytes is over our maximum frame size of {}",
                     frame_name(header_), header_.length, options_.max_frame_size));
  }
  if (!seen_frame_) {
    seen_frame_ = true;
    bool settings = header_.type == frame_type::settings && !header_.has(flag::ack);
    if (options_.expect_server_preface && !settings) {
      fail(error_code::protocol_error,
           fmt::format("the {}'s first frame is {}, not SETTINGS",
                       options_.peer == peer_role::server ? "server" : "client",
                       frame_name(header_)));
    }
  }
  if (header_.type == frame_type::push_promise && options_.peer == peer_role::client) {
    fail(error_code::protocol_error,
         fmt::format("PUSH_PROMISE frame on stream {} from a client (only servers push)",
                     header_.stream_id));
  }
  check_sequence();
  check_stream_id();
  remaining_ = header_.length;
  buffer_.clear();
  stream_error_ = error_code::no_error;
  state_ = is_known(header_.type) ? state::payload : state::skip;
  check_length();
}

void frame_reader::check_sequence() const {
  if (in_block_) {
    if (header_.type != frame_type::continuation || header_.stream_id != block_header_.stream_id) {
      fail(error_code::protocol_error,
           fmt::format("{} frame on stream {} inside the header block of stream {} (only "
                       "CONTINUATION frames of that stream may come until END_HEADERS)",
                       frame_name(header_), header_.stream_id, block_header_.stream_id));
    }
  } else if (header_.type == frame_type::continuation) {
    fail(error_code::protocol_error,
         fmt::format("CONTINUATION frame on stream {} without an open header block",
                     header_.stream_id));
  }
}

void frame_reader::check_stream_id() const {
  if (header_.stream_id == 0 && needs_stream(header_.type)) {
    fail(error_code::protocol_error, fmt::format("{} frame on stream 0", frame_name(header_)));
  }
  if (header_.stream_id != 0 && needs_stream_zero(header_.type)) {
    fail(error_code::protocol_error, fmt::format("{} frame on stream {} (must be on stream 0)",
                                                 frame_name(header_), header_.stream_id));
  }
}

void frame_reader::check_length() {
  const std::uint32_t length = header_.length;
  switch (header_.type) {
    case frame_type::settings:
      if (header_.has(flag::ack) && length != 0) {
        fail(error_code::frame_size_error, wrong_length(header_, "empty"));
      }
      if (length % 6 != 0) {
        fail(error_code::frame_size_error, wrong_length(header_, "a multiple of 6"));
      }
      break;
    case frame_type::ping:
      if (length != 8) fail(error_code::frame_size_error, wrong_length(header_, "8"));
      break;
    case frame_type::window_update:
    case frame_type::rst_stream:
      if (length != 4) fail(error_code::frame_size_error, wrong_length(header_, "4"));
      break;
    case frame_type::goaway:
      if (length < 8) fail(error_code::frame_size_error, wrong_length(header_, "at least 8"));
      break;
    case frame_type::priority:
      // Deprecated and ignored, but a malformed one still ends its stream.
      if (length != priority_fields_size) {
        set_stream_error(error_code::frame_size_error, wrong_length(header_, "5"));
        state_ = state::skip;
      }
      break;
    case frame_type::data:
    case frame_type::headers:
    case frame_type::push_promise: {
      std::size_t needed = (is_padded(header_) ? 1 : 0) + fixed_fields_size(header_);
      if (length < needed) {
        fail(error_code::frame_size_error,
             fmt::format("{} frame with a {}-byte payload, too short for its {}-byte {}",
                         frame_name(header_), length, needed, fixed_fields_name(header_)));
      }
      break;
    }
    default:
      break;
  }
}

void frame_reader::set_stream_error(error_code code, std::string message) {
  stream_error_ = code;
  message_ = "HTTP/2: " + std::move(message);
}

read_result frame_reader::stream_error_result(std::size_t consumed) const {
  read_result out;
  out.event = read_event::stream_error;
  out.consumed = consumed;
  out.header = header_;
  out.stream_error = stream_error_;
  out.message = message_;
  return out;
}

// A complete frame of a known type. True when it makes an event.
bool frame_reader::on_frame(std::string_view payload, read_result& out) {
  out.event = read_event::frame;
  out.header = header_;
  out.payload = payload;
  switch (header_.type) {
    case frame_type::data:
      out.payload = unpad(payload, 0);
      return true;
    case frame_type::headers:
    case frame_type::push_promise:
      return on_header_block(payload, out);
    case frame_type::continuation:
      return on_continuation(payload, out);
    case frame_type::settings:
      if (!header_.has(flag::ack)) {
        for_each_setting(payload, [this](setting s) { check_setting(s, options_.peer); });
      }
      return true;
    case frame_type::window_update:
      if (read_window_increment(payload) != 0) return true;
      if (header_.stream_id == 0)
        fail(error_code::protocol_error, "WINDOW_UPDATE of 0 on stream 0");
      set_stream_error(error_code::protocol_error,
                       fmt::format("WINDOW_UPDATE of 0 on stream {}", header_.stream_id));
      out = stream_error_result(0);
      return true;
    default:
      return true;
  }
}

// The part of a DATA, HEADERS or PUSH_PROMISE payload after the pad length
// and `fixed` more bytes, without the padding. check_length made sure the
// pad length and the fixed fields are there.
std::string_view frame_reader::unpad(std::string_view payload, std::size_t fixed) const {
  std::size_t pad = 0;
  if (is_padded(header_)) {
    pad = static_cast<unsigned char>(payload.front());
    payload.remove_prefix(1);
  }
  if (pad > payload.size() - fixed) {
    fail(error_code::protocol_error,
         fmt::format("{} frame on stream {} with a pad length of {} in a {}-byte payload",
                     frame_name(header_), header_.stream_id, pad, header_.length));
  }
  return payload.substr(fixed, payload.size() - fixed - pad);
}

bool frame_reader::on_header_block(std::string_view payload, read_result& out) {
  const std::size_t fixed = fixed_fields_size(header_);
  std::string_view fragment = unpad(payload, fixed);
  if (header_.type == frame_type::push_promise) {
    out.promised_stream_id = read_stream_id(payload.substr(is_padded(header_) ? 1 : 0));
  }
  check_block_size(fragment.size());
  out.payload = fragment;
  if (header_.has(flag::end_headers)) return true;
  in_block_ = true;
  block_header_ = header_;
  block_promised_ = out.promised_stream_id;
  if (!options_.assemble_header_blocks) return true;
  block_.assign(fragment);
  return false;
}

bool frame_reader::on_continuation(std::string_view fragment, read_result& out) {
  const bool last = header_.has(flag::end_headers);
  if (last) in_block_ = false;
  if (!options_.assemble_header_blocks) return true;
  check_block_size(block_.size() + fragment.size());
  block_.append(fragment);
  if (!last) return false;
  out.header = block_header_;
  out.header.flags |= flag::end_headers;
  out.promised_stream_id = block_promised_;
  out.payload = block_;
  return true;
}

void frame_reader::check_block_size(std::size_t size) const {
  if (!options_.assemble_header_blocks || size <= options_.max_header_block) return;
  throw connection_error(
      error_code::enhance_your_calm,
      fmt::format("HTTP/2: header block on stream {} is over the limit of {} bytes",
                  header_.stream_id, options_.max_header_block),
      errc::limit_exceeded);
}

}  // namespace keyless::http::h2
