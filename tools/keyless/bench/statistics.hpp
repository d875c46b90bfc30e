#pragma once
// What a run measured: per-thread tallies of the requests (merged after each round) and the
// per-mode totals the reports print.

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>

#include "histogram.hpp"

namespace keyless::cli::bench {

/// The requests one thread finished in one round. Thread-safety: one writer (its thread).
struct request_tally {
  histogram latency;      ///< call start to the whole reply (the last chunk)
  histogram first_chunk;  ///< --stream: call start to the first chunk
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t chunks = 0;
  std::map<int, std::uint64_t> errors_by_status;           ///< 0: no HTTP status
  std::map<std::string, std::uint64_t> errors_by_kind;     ///< "http_status", "timeout", ...
  std::map<std::string, std::string> first_error_by_kind;  ///< one message per kind

  std::uint64_t finished() const noexcept { return succeeded + failed; }
  /// Counts the failure held by `failure` (a keyless::error or anything else).
  void record_failure(std::exception_ptr failure);
  void merge(const request_tally& other);
};

/// Token fetches seen by the timing credential, as differences over a span of time.
struct token_figures {
  std::uint64_t fetches = 0;
  std::uint64_t failures = 0;
  std::chrono::nanoseconds fetch_time{0};     ///< all fetches, background refreshes included
  std::chrono::nanoseconds blocking_time{0};  ///< fetches callers had to wait for
  std::uint64_t waits = 0;                    ///< calls that waited (chat_client_stats)
};

/// Everything measured for one mode over all its rounds.
struct mode_figures {
  unsigned rounds = 0;
  request_tally tally;
  std::chrono::nanoseconds wall{0};
  std::chrono::nanoseconds cpu_user{0};
  std::chrono::nanoseconds cpu_system{0};
  long peak_rss_kib = 0;            ///< the process's ru_maxrss after this mode's last round
  std::uint64_t http_requests = 0;  ///< attempts sent (chat_client_stats)
  std::uint64_t retries = 0;
  std::uint64_t auth_retries = 0;
  std::optional<token_figures> tokens;  ///< keyless only

  double seconds() const noexcept { return std::chrono::duration<double>(wall).count(); }
  double requests_per_second() const noexcept;
  /// Client CPU (user + system) per finished request, in microseconds.
  double cpu_us_per_request() const noexcept;
  double chunks_per_second() const noexcept;
  /// Share (0-1) of wall time during which some request waited for a token.
  double token_wait_share() const noexcept;
};

/// One probe request sent before the run.
struct probe_result {
  std::chrono::nanoseconds latency{0};
  std::uint64_t http_requests = 0;
  std::optional<token_figures> tokens;  ///< keyless only: the first token fetch
};

/// "http_status", "timeout", ... for a keyless::errc; other failures get "other".
std::string error_kind(std::exception_ptr failure);

}  // namespace keyless::cli::bench
