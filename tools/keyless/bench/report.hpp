#pragma once
// The two renderings of a run: a table for people, one JSON object for scripts (its fields are
// listed in docs/BENCHMARKS.md, "keyless bench").

#include <string>

#include "bench_options.hpp"
#include "runner.hpp"

namespace keyless::cli::bench {

/// The human-readable report, ending in a newline.
std::string text_report(const bench_options& options, const run_report& run);

/// One JSON object, ending in a newline.
std::string json_report(const bench_options& options, const run_report& run);

}  // namespace keyless::cli::bench
