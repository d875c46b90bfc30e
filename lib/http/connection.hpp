#pragma once
// One HTTP/1.1 connection (TCP, optionally through a proxy, optionally TLS) and the exchanges
// it carries, one at a time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include "http1_parser.hpp"
#include "keyless/http/request.hpp"
#include "keyless/http/response.hpp"
#include "proxy.hpp"
#include "run_on.hpp"
#include "tls_context.hpp"

namespace keyless::http::detail {

using steady_clock = std::chrono::steady_clock;

/// Where a connection goes: the origin, and the proxy in between if any.
struct route {
  bool tls = false;
  std::string host;  ///< origin host; IPv6 unbracketed
  std::uint16_t port = 0;
  std::shared_ptr<const proxy_endpoint> proxy;  ///< null: direct
  std::string pool_key;  ///< "https://host:port", plus " via <proxy>" through a proxy

  /// "https://host:port", for messages.
  std::string origin() const;
};

/// One TLS record's worth: a read never returns more than that at once.
inline constexpr std::size_t read_buffer_size = 16 * 1024 + 512;

/// Why a connection ended, for messages: "the server closed the connection" for a FIN or a
/// TLS close without close_notify, else the error's text.
std::string describe_connection_loss(std::error_code ec);

/// "GET https://host:port/path" (no query), how messages name a request.
std::string describe_request(const request& r);

/// Everything one request needs once it is on the wire. Immutable while an exchange runs.
struct exchange {
  route where;
  request message;  ///< checked (detail::check_head); its head is written when it is sent
  bool absolute_form = false;  ///< request target as a full URL (plain http via a proxy)
  bool head_request = false;
  bool idempotent = false;
  std::string user_agent;  ///< also sent with CONNECT
  /// "GET https://host:port/path" for messages (no query); built only when one is written.
  std::string what() const;

  steady_clock::time_point deadline;  ///< of the whole request
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds tls_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  parser_limits limits;
};

/// A connection. Its I/O runs on strand(); between exchanges it belongs to the pool, which may
/// look at it (looks_alive) and close it, from any thread under the pool's mutex.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls);
  ~connection();

  const strand_type& strand() const noexcept { return strand_; }
  bool connected() const noexcept { return connected_; }

  // --- on strand() ---

  /// Connects if needed, sends the request and reads the response head. Throws
  /// keyless::error, or asio::system_error(operation_aborted) when cancelled; the connection
  /// is closed on any failure.
  asio::awaitable<void> start(const exchange* x);
  /// The next piece of the body, or nothing at its end. Failures as start().
  asio::awaitable<std::optional<std::string_view>> read_body(const exchange* x);
  /// start(), then the whole body appended to `out`: an exchange in one visit to the strand.
  asio::awaitable<void> start_and_read_all(const exchange* x, std::string* out);

  /// The head of the response being read.
  const response_head& head() const noexcept { return parser_.head(); }
  /// Moves the head out, once the response was read to its end.
  response_head take_head() noexcept { return parser_.take_head(); }

  // --- the HTTP/2 transport's use of a connection, on strand() ---

  /// Connects (through the proxy, then TLS offering `offer`) without sending anything.
  /// Failures as start().
  asio::awaitable<void> open(const exchange* x, alpn_offer offer);
  /// The protocol the TLS handshake agreed on (ALPN), e.g. "h2"; empty without TLS or ALPN.
  std::string_view negotiated_protocol() const noexcept;
  /// One read of whatever has arrived, without deadline: HTTP/2 reads whenever streams are open
  /// and keeps its own timers per stream.
  asio::awaitable<std::pair<std::error_code, std::size_t>> read_raw(asio::mutable_buffer into);
  /// Writes all of `bytes`, without deadline.
  asio::awaitable<std::error_code> write_raw(asio::const_buffer bytes);

  // --- after an exchange, from whoever awaited it ---

  /// The exchange failed because the connection was closed or reset before any byte of the
  /// response arrived (what a stale pooled connection looks like).
  bool failed_before_response() const noexcept { return failed_before_response_; }
  /// Bytes of the current request written so far.
  std::size_t bytes_written() const noexcept { return bytes_written_; }
  /// The response ended and the connection may carry another request.
  bool reusable() const noexcept;

  // --- while idle, under the pool's mutex ---

  /// Neither closed by the peer nor holding unexpected bytes (a non-blocking peek).
  bool looks_alive() const noexcept;
  /// Closes the socket. Idempotent.
  void close() noexcept;

 private:
  struct deadline {
    steady_clock::time_point at;
    const char* name;
    std::chrono::milliseconds budget;
  };
  static deadline earliest(deadline phase, const exchange* x);
  static deadline request_deadline(const exchange* x);

  asio::ip::tcp::socket& lowest() noexcept;
  void arm(const deadline& d);
  void disarm() noexcept;
  // An exchange failed: no timer left running, the connection closed for good.
  void give_up() noexcept;
  [[noreturn]] void fail(const exchange* x, std::error_code ec, const deadline& d,
                         std::string_view doing);

  asio::awaitable<std::vector<asio::ip::tcp::endpoint>> resolve(const exchange* x,
                                                                const std::string& host,
                                                                std::uint16_t port);
  asio::awaitable<void> connect(const exchange* x);
  asio::awaitable<void> tunnel(const exchange* x);
  asio::awaitable<void> handshake(const exchange* x);
  asio::awaitable<void> write(const exchange* x, std::string_view head, std::string_view body,
                              const deadline& d, std::string_view doing);
  // Reads into the (empty) buffer; false at the end of the stream.
  asio::awaitable<bool> fill(const exchange* x, const deadline& d, std::string_view doing);
  asio::awaitable<void> run_start(const exchange* x);
  parse_result parse(const exchange* x, std::string_view data);
  parse_result parse_eof(const exchange* x);
  void mark_broken() noexcept;
  asio::awaitable<std::optional<std::string_view>> next_piece(const exchange* x);

  std::string_view buffered() const noexcept { return {buffer_.data() + begin_, end_ - begin_}; }

  asio::any_io_executor executor_;
  strand_type strand_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  asio::ip::tcp::socket socket_;  // until TLS takes it over
  std::optional<tls_stream> tls_;
  alpn_offer alpn_ = alpn_offer::none;  // HTTP/1.1 exchanges offer nothing
  std::string send_buffer_;             // the request head; its capacity is kept between requests
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  bool armed_ = false;
  steady_clock::time_point armed_at_{};
  bool timer_fired_ = false;

  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  response_parser parser_;

  bool connected_ = false;
  bool broken_ = false;
  bool eof_ = false;
  bool message_done_ = false;
  bool response_started_ = false;
  bool failed_before_response_ = false;
  std::size_t bytes_written_ = 0;
};

}  // namespace keyless::http::detail
