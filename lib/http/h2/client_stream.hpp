#pragma once
// What a client session keeps per stream: the stream's state (RFC 9113 5.1)
// from the client's side, its flow-control windows and the request body it
// still has to send; and the table of open streams.

#include <algorithm>
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
  std::string body;  // the part of the request body flow control held back; body_sent of it sent
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

}  // namespace keyless::http::h2
