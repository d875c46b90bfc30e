#pragma once
// When to retry a chat request and how long to wait first. Pure functions of
// the attempt's outcome, the retry count, the time and a random number, so the
// client stays simple and tests need neither sleeps nor real randomness.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "keyless/core/clock.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::openai {

/// Retry knobs. The defaults follow the openai SDKs (2 retries, 0.5 s doubling
/// to 8 s, server delays honoured up to 60 s).
struct retry_options {
  int max_retries = 2;
  /// The longest server-requested delay (retry-after-ms / retry-after) we wait.
  /// A longer request fails the call at once with that delay in its diagnostics:
  /// Azure answers exhausted quotas with "retry after 86400 seconds", and
  /// parking a request for a day helps nobody, while anything much over a
  /// minute outlives most callers' own deadlines. openai-python 2.x uses the
  /// same 60 s; 3.x moved to 120 s.
  std::chrono::milliseconds max_server_delay{60'000};
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{8'000};
};

/// What came of one attempt.
struct attempt_outcome {
  /// The response status, or nullopt when no response arrived (connect error,
  /// reset, timeout).
  std::optional<int> status{};
  /// The response headers when there was a response; may be null.
  const http::fields* headers = nullptr;
  /// A stream already handed part of its body to the caller: never retried.
  bool body_started = false;
};

/// The verdict on one failed attempt.
struct retry_decision {
  bool retry = false;
  std::chrono::milliseconds delay{0};  ///< wait this long before the next attempt
  /// What the service asked for (retry-after-ms / retry-after), even when it was
  /// not used; goes into diagnostics::retry_after.
  std::optional<std::chrono::milliseconds> server_delay{};
  std::string reason{};  ///< one clause saying why, for logs and error messages
};

/// Uniform numbers in [0, 1) that jitter the backoff.
using random_source = std::function<double()>;

/// Decides whether to retry after `outcome`, given `retries_so_far` retries
/// already made. Rules: never after the body started or past max_retries;
/// `x-should-retry: true|false` overrides the status; else 408, 409, 429, 5xx
/// and connection errors are retried. The delay is the server's (retry-after-ms,
/// x-ms-retry-after-ms, then retry-after as seconds or an HTTP-date against
/// `now`) when 0 < d <= max_server_delay; d > max_server_delay means no retry;
/// otherwise min(initial·2^n, max) × (1 − 0.25·random()). `random` is called
/// only for that backoff.
retry_decision decide_retry(const attempt_outcome& outcome, int retries_so_far,
                            const retry_options& options, clock::time_point now,
                            const random_source& random);

/// The jittered exponential backoff before retry number `retries_so_far` + 1;
/// `unit` in [0, 1) is the random draw.
std::chrono::milliseconds backoff_delay(int retries_so_far, const retry_options& options,
                                        double unit);

/// The delay the service asked for, in header priority order; the first header
/// that parses wins. May be zero or negative (a date in the past). nullopt when
/// none is present and valid.
std::optional<std::chrono::milliseconds> server_retry_delay(const http::fields& headers,
                                                            clock::time_point now);

/// Parses an HTTP-date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850
/// ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6 08:49:37 1994").
std::optional<clock::time_point> parse_http_date(std::string_view text);

/// The first value of header `name` (case-insensitive), or nullopt. Header
/// helper shared by the openai codecs.
std::optional<std::string_view> find_header(const http::fields& headers,
                                            std::string_view name) noexcept;

}  // namespace keyless::openai
