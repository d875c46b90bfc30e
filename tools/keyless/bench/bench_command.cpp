// keyless bench: throughput, latency and the cost of tokens against an Azure OpenAI endpoint
// (or the emulator). The engine lives beside this file: options, runner, statistics,
// report, progress.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../command_line.hpp"
#include "../commands.hpp"
#include "bench_options.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace keyless::cli {

int run_bench(std::span<const std::string> arguments) {
  const auto environment = [](std::string_view name) {
    const char* v = std::getenv(std::string(name).c_str());
    return v ? std::string(v) : std::string();
  };
  const auto options = bench::parse_bench_options(arguments, environment);
  if (!options) {
    const std::string help = bench::bench_help();
    std::fwrite(help.data(), 1, help.size(), stdout);
    return 0;
  }

  bench::progress_line progress(stdout);
  const bench::run_report run = bench::run_benchmark(*options, progress);
  if (run.modes.empty()) {
    std::fprintf(stderr, "keyless bench: interrupted before the first round\n");
    return 130;
  }
  const std::string report = options->output == bench::output_format::json
                                 ? bench::json_report(*options, run)
                                 : bench::text_report(*options, run);
  std::fwrite(report.data(), 1, report.size(), stdout);
  std::fflush(stdout);
  // 130: the conventional status of a program stopped by SIGINT, so scripts can tell a
  // partial report from a full one.
  return run.interrupted ? 130 : 0;
}

}  // namespace keyless::cli
