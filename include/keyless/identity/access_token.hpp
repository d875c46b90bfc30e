#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "keyless/http/request.hpp"

namespace keyless::identity {

namespace detail {
struct access_token_access;  // lib/: lets the token cache keep per-thread copies
}  // namespace detail

/// An Entra ID access token. The token bytes are immutable and shared:
/// copying an access_token never copies them. Printing one (operator<<, or
/// `fmt::streamed(token)`) shows a redacted form, never the bytes; keyless
/// deliberately provides no fmt::formatter, so `fmt::format("{}", token)` fails
/// to compile rather than guess.
/// Thread-safety: an access_token is immutable; distinct copies may be used and
/// destroyed concurrently from any threads.
class access_token {
 public:
  using time_point = std::chrono::system_clock::time_point;

  access_token() = default;
  /// `refresh_on` defaults to `expires_on`, meaning "no hint": the token cache
  /// then refreshes 5 minutes before expiry. A `refresh_on` before `expires_on`
  /// (the service's refresh_in, or half-life of long tokens) is used as given.
  access_token(std::string token, time_point expires_on, time_point refresh_on = {});

  /// The bearer value. Empty for a default-constructed token.
  std::string_view token() const noexcept {
    return bytes_ ? std::string_view(*bytes_).substr(bearer_prefix.size()) : std::string_view{};
  }
  time_point expires_on() const noexcept { return expires_on_; }
  /// When the issuer suggests refreshing (refresh_in, or half-life of long tokens).
  time_point refresh_on() const noexcept { return refresh_on_; }
  bool empty() const noexcept { return !bytes_ || bytes_->size() == bearer_prefix.size(); }

  /// Same token bytes (identity of the shared buffer, then content).
  friend bool operator==(const access_token& a, const access_token& b) noexcept {
    return a.bytes_ == b.bytes_ || a.token() == b.token();
  }

 private:
  friend struct detail::access_token_access;
  friend http::shared_field authorization_field(const access_token& token);

  // The bytes are stored after this prefix, so that the Authorization value of every request
  // is a view of them, not a copy (authorization_field).
  static constexpr std::string_view bearer_prefix = "Bearer ";

  std::shared_ptr<const std::string> bytes_;
  bool sendable_ = false;  // the Authorization value passed http::checked_field when made
  time_point expires_on_{};
  time_point refresh_on_{};
};

/// The `Authorization: Bearer <token>` field for `token`, sharing the token's bytes: a request
/// holds a reference to them, not a copy. An empty token gives the value "Bearer ".
http::shared_field authorization_field(const access_token& token);

/// Writes "access_token(<redacted>, expires_on=...)"; never the token bytes.
std::ostream& operator<<(std::ostream& os, const access_token& t);

}  // namespace keyless::identity
