#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keyless::http {

/// An absolute http(s) URL, split for connecting and for the request line.
struct url {
  std::string scheme;        ///< "http" or "https", lower-cased
  std::string host;          ///< host name or IP literal; IPv6 without brackets; lower-cased
  std::uint16_t port = 0;    ///< explicit port, else 80 / 443
  std::string target = "/";  ///< path plus "?query" when present; never empty; no fragment

  /// Parses "scheme://host[:port][/path][?query][#fragment]". The scheme
  /// (http or https) and host are lower-cased; surrounding whitespace is
  /// ignored; the fragment is dropped; spaces, non-ASCII bytes and other
  /// characters that cannot stand in a request line are percent-encoded,
  /// existing %XX escapes are kept. User info ("user:pass@") is refused, not
  /// stripped: keyless never sends URL credentials, so dropping them would
  /// silently send the request unauthenticated.
  /// Throws keyless::error(errc::invalid_argument) naming what is wrong; the
  /// message never shows the query, the fragment or a URL with user info.
  static url parse(std::string_view text);

  bool is_https() const noexcept { return scheme == "https"; }
  std::string_view path() const noexcept;   ///< target up to '?'
  std::string_view query() const noexcept;  ///< after '?', empty when none
  /// "scheme://host:port" (IPv6 bracketed): the key of a connection pool.
  std::string origin() const;
  /// The Host header value: host, plus ":port" when not the scheme's default.
  std::string host_header() const;
  /// The URL back as text (default port omitted).
  std::string to_string() const;
};

/// Percent-encodes everything except RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);
/// application/x-www-form-urlencoded component: like percent_encode, space as "%20".
std::string form_encode(std::string_view text);
/// Decodes %XX escapes (and '+' as space when `plus_is_space`).
/// Throws keyless::error(errc::invalid_argument) on a bad escape.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

}  // namespace keyless::http
