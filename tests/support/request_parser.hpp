#pragma once
// A small, self-contained HTTP/1.1 request parser for the loopback fakes. It is
// deliberately independent of lib/http so the fakes can test the client without
// sharing its bugs.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyless::testing {

/// Header fields in arrival order; names compare ASCII case-insensitively.
/// A plain value type; not synchronised.
class header_map {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  header_map() = default;
  /// `header_map{{"retry-after", "1"}, {"x-ms-request-id", "abc"}}`. With g++ 12, build the
  /// map in a named local before passing it into a `co_await` expression.
  header_map(std::initializer_list<value_type> items) : items_(items) {}

  /// Appends a field; repeated names are kept.
  void add(std::string name, std::string value);
  /// Replaces every field named `name` by one.
  void set(std::string name, std::string value);
  /// Removes every field named `name`.
  void erase(std::string_view name);
  /// The first value named `name`.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  /// Every value named `name`, in arrival order.
  std::vector<std::string_view> find_all(std::string_view name) const;
  bool contains(std::string_view name) const noexcept { return find(name).has_value(); }

  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }

 private:
  std::vector<value_type> items_;
};

/// ASCII case-insensitive comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Decodes %XX escapes; with `plus_is_space`, also '+' (form encoding). Malformed escapes are
/// kept literally.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

/// Looks `name` up in an `a=1&b=2` string (query or form body), percent-decoding both names and
/// values ('+' as space). The first match wins.
std::optional<std::string> find_url_encoded(std::string_view encoded, std::string_view name);

/// One request as a fake server saw it.
struct recorded_request {
  std::string method;   ///< "GET", "POST", "CONNECT", ...
  std::string target;   ///< as sent: "/path?query", "http://h:1/x" or "host:port"
  std::string version;  ///< "HTTP/1.1", "HTTP/1.0" or "HTTP/2"
  header_map headers;
  std::string body;             ///< de-chunked
  bool chunked = false;         ///< the body arrived with Transfer-Encoding: chunked
  std::size_t connection = 0;   ///< 0-based index of the accepting connection on its server
  std::size_t sequence = 0;     ///< 0-based index among all requests of its server
  std::string tls_server_name;  ///< SNI the client sent (TLS only; empty when none)
  std::string tls_protocol;     ///< negotiated protocol, e.g. "TLSv1.3" (TLS only)

  /// The target without query or fragment ("/a/b" for "/a/b?c=d"); for an absolute-form
  /// target the path part of the URL.
  std::string_view path() const noexcept;
  /// The raw query without '?', or empty.
  std::string_view query() const noexcept;
  /// A decoded query parameter: `query_param("api-version")`.
  std::optional<std::string> query_param(std::string_view name) const;
  /// A decoded application/x-www-form-urlencoded body parameter: `form_param("grant_type")`.
  std::optional<std::string> form_param(std::string_view name) const;
  /// The first header value named `name`, or empty when absent.
  std::string header(std::string_view name) const;
  /// Whether the client asked to keep the connection (HTTP/1.1 default, Connection tokens).
  bool keep_alive() const noexcept;
};

/// Limits for request_parser; a request beyond them is a parse error.
struct parser_limits {
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t max_body_bytes = 64 * 1024 * 1024;
};

/// Incremental HTTP/1.1 request parser (request line, headers, Content-Length or chunked body,
/// trailers ignored). Feed bytes as they arrive; once `done()`, `take()` the request and feed the
/// remaining bytes for the next one (pipelining). One parser per connection; not synchronised.
class request_parser {
 public:
  explicit request_parser(parser_limits limits = {}) : limits_(limits) {}

  /// Consumes bytes of `data` and returns how many were used. Stops at the end of a complete
  /// request (the rest belongs to the next request) or at the first error.
  std::size_t feed(std::string_view data);
  /// A complete request is ready for `take()`.
  bool done() const noexcept { return state_ == state::done; }
  /// The input is not valid HTTP/1.1; `error()` says why.
  bool failed() const noexcept { return state_ == state::failed; }
  const std::string& error() const noexcept { return error_; }
  /// The failure was a parser_limits overrun (a server answers 413 rather than 400).
  bool limit_exceeded() const noexcept { return limit_exceeded_; }
  /// No byte of the next request has been consumed yet.
  bool idle() const noexcept { return state_ == state::head && buffer_.empty(); }
  /// Moves the finished request out and resets for the next one. Precondition: done().
  recorded_request take();

 private:
  enum class state {
    head,
    body_length,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailers,
    done,
    failed
  };

  bool parse_head(std::string_view head);
  void fail(std::string message, bool limit = false);
  // Moves bytes of `data` from `used` into buffer_ up to a CRLF; true once a whole line (CRLF
  // stripped) is buffered. A line longer than `max_line` fails the parse.
  bool take_line(std::string_view data, std::size_t& used, std::size_t max_line);

  parser_limits limits_;
  state state_ = state::head;
  std::string buffer_;  // partial line(s) not yet parsed
  std::size_t remaining_ = 0;
  recorded_request current_;
  std::string error_;
  bool limit_exceeded_ = false;
};

}  // namespace keyless::testing
