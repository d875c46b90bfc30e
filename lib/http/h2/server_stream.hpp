#pragma once
// What a server session keeps per stream: the stream's state (RFC 9113 5.1)
// from the server's side, its flow-control windows, the request as it
// arrives and the response output flow control holds back.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/h2/flow_window.hpp"
#include "http/h2/request_fields.hpp"

namespace keyless::http::h2 {

struct server_stream {
  server_stream(std::uint32_t stream_id, std::uint32_t send_size, std::uint32_t receive_size)
      : id(stream_id), send(send_size), receive(receive_size) {}

  std::uint32_t id;
  bool receiving = true;   // the client's END_STREAM has not come: open or half-closed (local)
  bool sending = true;     // our END_STREAM has not gone out: open or half-closed (remote)
  bool reported = false;   // the request went to the application
  bool head_sent = false;  // the final (non-1xx) response head went out
  bool ending = false;     // the application ended the response; END_STREAM waits in `pending`
  std::optional<std::uint64_t> expected_length;  // the request's content-length
  send_window send;
  receive_window receive;
  request_fields head;  // the request head, while its body arrives
  std::string body;     // the request body so far
  // Response bytes the windows held back: pending[pending_sent..] goes out
  // first, then the trailers (when has_trailers), then END_STREAM if ending.
  std::string pending;
  std::size_t pending_sent = 0;
  bool has_trailers = false;
  std::vector<std::pair<std::string, std::string>> trailers;

  std::string_view unsent() const noexcept {
    return std::string_view(pending).substr(pending_sent);
  }
};

}  // namespace keyless::http::h2
