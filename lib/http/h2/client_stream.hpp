#pragma once
// What a client session keeps per stream: the stream's state (RFC 9113 5.1)
// from the client's side, its flow-control windows and the request body it
// still has to send; the table of open streams; and a memory of recently
// reset ones, whose late frames must be ignored.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http/h2/flow_window.hpp"

namespace keyless::http::h2 {

struct client_stream {
  client_stream(std::uint32_t stream_id, std::uint32_t send_size, std::uint32_t receive_size)
      : id(stream_id), send(send_size), receive(receive_size) {}

  std::uint32_t id;
  bool sending = true;         // our END_STREAM is still to go: open or half-closed (remote)
  bool receiving = true;       // the server's END_STREAM has not come: open or half-closed (local)
  bool head_received = false;  // the final (non-1xx) response head arrived
  bool head_request = false;   // HEAD: no response body, whatever content-length says
  std::optional<std::uint64_t> expected_length;  // response body bytes, when known
  std::uint64_t received_length = 0;             // response body bytes so far
  std::uint32_t unconsumed = 0;                  // delivered to the application, not yet consumed
  send_window send;
  receive_window receive;
  std::string body;  // the request body; body_sent bytes of it are on their way
  std::size_t body_sent = 0;

  /// Open or half-closed: counts against SETTINGS_MAX_CONCURRENT_STREAMS.
  bool active() const noexcept { return sending || receiving; }
  /// Closed, with nothing the application still has to consume.
  bool done() const noexcept { return !active() && unconsumed == 0; }
};

/// The streams a session knows, in stream id order. Ids only grow, so a new
/// stream goes at the end and lookup is a binary search. Pointers and
/// references die at the next add() or erase(). Once the vector has grown
/// to the most streams open at once, adding does not allocate.
class stream_table {
 public:
  client_stream* find(std::uint32_t id) noexcept {
    auto it = lower_bound(id);
    return it != streams_.end() && it->id == id ? &*it : nullptr;
  }

  /// `id` is above every id in the table.
  client_stream& add(std::uint32_t id, std::uint32_t send_size, std::uint32_t receive_size) {
    return streams_.emplace_back(id, send_size, receive_size);
  }

  void erase(std::uint32_t id) {
    auto it = lower_bound(id);
    if (it != streams_.end() && it->id == id) streams_.erase(it);
  }

  void erase_done() {
    std::erase_if(streams_, [](const client_stream& s) { return s.done(); });
  }

  std::size_t active_count() const noexcept {
    return static_cast<std::size_t>(std::count_if(
        streams_.begin(), streams_.end(), [](const client_stream& s) { return s.active(); }));
  }

  std::span<client_stream> all() noexcept { return streams_; }
  bool empty() const noexcept { return streams_.empty(); }
  client_stream& newest() noexcept { return streams_.back(); }
  void clear() noexcept { streams_.clear(); }

 private:
  std::vector<client_stream>::iterator lower_bound(std::uint32_t id) noexcept {
    return std::lower_bound(streams_.begin(), streams_.end(), id,
                            [](const client_stream& s, std::uint32_t v) { return s.id < v; });
  }

  std::vector<client_stream> streams_;
};

/// Who reset a stream that is now closed.
enum class reset_by : std::uint8_t { us, peer };

/// The last `capacity` streams that were reset. RFC 9113 5.1: after we send
/// RST_STREAM the server may still have frames for the stream in flight,
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

}  // namespace keyless::http::h2
