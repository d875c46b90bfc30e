#pragma once
// The load generator itself: one probe request per mode, then rounds of requests kept N in
// flight on T threads, measured per mode.

#include <map>
#include <string>

#include "bench_options.hpp"
#include "progress.hpp"
#include "statistics.hpp"

namespace keyless::cli::bench {

/// What a run measured, for the reports. Holds no key or token.
struct run_report {
  std::string url;          ///< where requests went (no credentials in it)
  std::string api_version;  ///< the api-version sent
  std::size_t threads = 1;
  std::map<round_auth, probe_result> probes;
  std::map<round_auth, mode_figures> modes;  ///< empty when interrupted before the first round
  bool interrupted = false;                  ///< Ctrl-C stopped the run early
};

/// Runs `options`: probes each mode (throwing std::runtime_error naming the mode, the URL,
/// the failure and its hint when a probe fails, or usage_error for an endpoint the client
/// cannot use), then the rounds, showing `progress` while they run. A SIGINT received
/// meanwhile stops the run: no new request starts, those in flight finish, and the report
/// covers what ran (`interrupted` set). A second SIGINT ends the process at once.
run_report run_benchmark(const bench_options& options, progress_line& progress);

}  // namespace keyless::cli::bench
