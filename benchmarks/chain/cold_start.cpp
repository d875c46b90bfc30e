// Cold start of default_azure_credential: how long a fresh chain takes to build and to
// return its first token, concurrent versus the same sources run one after another
// (the peers' behaviour), in the same run, on loopback and the fake az/azd:
//
//   laptop        managed identity endpoint refuses connections; az answers after 300 ms
//   black-holed   the endpoint accepts and never answers (1 s budget, as a probe would
//                 have); az answers after 300 ms
//   azure vm      the endpoint answers; az would answer after 300 ms but must not start
//
// then what starting a CLI costs: the fake az (a shell script) and, with --real-az, the
// real `az account get-access-token` with an empty config directory (it fails at once
// for want of a login, so its time is Python's start-up and az's module loading).
// Prints one line per scenario and mode: first-token time (median, min, max over the
// rounds), chain construction time, and how many times az was started.
//
//   build/benchmarks/chain/bench_chain_cold_start [rounds=5] [--real-az]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "io_helpers.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/azure_cli_credential.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "loopback_server.hpp"

#ifndef KEYLESS_FAKES_DIR
#error "KEYLESS_FAKES_DIR must name tests/fakes"
#endif

namespace {

using namespace std::chrono_literals;
using keyless::identity::chain_options;
using keyless::identity::default_azure_credential;
using keyless::identity::default_azure_credential_options;
using keyless::identity::environment_map;
using keyless::identity::token_request;
using steady = std::chrono::steady_clock;

constexpr std::string_view cli_answer =
    R"({"accessToken":"cli-token","expiresOn":"2099-01-01 00:00:00.000000",)"
    R"("expires_on":4070908800,"tenant":"t","tokenType":"Bearer"})";

enum class endpoint_kind { refused, black_holed, answers };

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "keyless-bench-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

int az_starts(const std::filesystem::path& record) {
  std::ifstream in(record / "starts");
  int starts = 0;
  for (std::string line; std::getline(in, line);) starts += line == "account" ? 1 : 0;
  return starts;
}

double ms(steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

token_request openai_request() {
  token_request req;
  req.scopes.push_back("https://cognitiveservices.azure.com/.default");
  return req;
}

struct round_result {
  double construct_us = 0;
  double first_token_ms = 0;
  std::string winner;
  int az_started = 0;
};

round_result run_round(endpoint_kind endpoint, chain_options::mode mode,
                       std::chrono::milliseconds hedge) {
  asio::io_context io;
  temp_dir record;
  std::optional<keyless::testing::loopback_server> imds;
  std::string host;
  if (endpoint == endpoint_kind::refused) {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    host = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
  } else {
    imds.emplace(io.get_executor());
    if (endpoint == endpoint_kind::black_holed) {
      imds->set_handler(
          [](keyless::testing::recorded_request,
             keyless::testing::responder& r) -> asio::awaitable<void> { co_await r.stall(); });
    } else {
      imds->set_handler([](keyless::testing::recorded_request,
                           keyless::testing::responder& r) -> asio::awaitable<void> {
        co_await r.respond_json(200, R"({"access_token":"mi-token","expires_in":"3600",)"
                                     R"("resource":"https://cognitiveservices.azure.com",)"
                                     R"("token_type":"Bearer"})");
      });
    }
    host = imds->url("");
  }

  default_azure_credential_options o;
  o.environment = environment_map{{"AZURE_POD_IDENTITY_AUTHORITY_HOST", host}};
  o.azure_cli_path = std::string(KEYLESS_FAKES_DIR) + "/az";
  o.azure_developer_cli_path = std::string(KEYLESS_FAKES_DIR) + "/azd";
  o.cli_environment = {{"FAKE_CLI_RECORD_DIR", record.path.string()},
                       {"FAKE_CLI_STDOUT", std::string(cli_answer)},
                       {"FAKE_CLI_DELAY_MS", "300"}};
  // A black-holed endpoint gets the budget of a probe (1 s) for the whole exchange,
  // so the sequential chain ends as the peers' does rather than at the idle timeout.
  o.managed_identity_probe_timeout = 1s;
  o.http.request_timeout = 1s;
  o.http.idle_timeout = 1s;
  o.run_mode = mode;
  o.hedge_delay = hedge;

  round_result r;
  const auto t0 = steady::now();
  auto chain = default_azure_credential(io.get_executor(), o);
  const auto t1 = steady::now();
  auto token = keyless::testing::run_sync(io, chain->get_token(openai_request()));
  const auto t2 = steady::now();
  r.construct_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  r.first_token_ms = ms(t2 - t1);
  r.winner = chain->last_report().winner.value_or("-");
  if (imds) imds->stop();
  keyless::testing::run_until_idle(io);
  r.az_started = az_starts(record.path);
  (void)token;
  return r;
}

struct summary {
  double median = 0, min = 0, max = 0;
};

summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

void report(const char* scenario, const char* mode, const std::vector<round_result>& rounds) {
  std::vector<double> first;
  std::vector<double> construct;
  int starts = 0;
  for (const auto& r : rounds) {
    first.push_back(r.first_token_ms);
    construct.push_back(r.construct_us);
    starts += r.az_started;
  }
  const auto f = summarize(first);
  const auto c = summarize(construct);
  std::printf(
      "%-12s %-10s first token %7.1f ms (min %7.1f, max %7.1f)  construct %6.0f us  "
      "winner %-26s az started %d/%zu\n",
      scenario, mode, f.median, f.min, f.max, c.median, rounds.back().winner.c_str(), starts,
      rounds.size());
  std::fflush(stdout);
}

// Time for one get_token through azure_cli_credential alone (spawn, run, parse or fail).
void cli_cost(const char* label, const std::string& program,
              std::vector<std::pair<std::string, std::string>> env, int rounds) {
  std::vector<double> times;
  std::string outcome;
  for (int i = 0; i < rounds; ++i) {
    asio::io_context io;
    keyless::identity::azure_cli_credential_options o;
    o.executable = program;
    o.environment = env;
    o.process_timeout = 30s;
    auto cli =
        std::make_shared<keyless::identity::azure_cli_credential>(io.get_executor(), std::move(o));
    const auto t0 = steady::now();
    try {
      keyless::testing::run_sync(io, cli->get_token(openai_request()));
      outcome = "token";
    } catch (const std::exception& e) {
      outcome = keyless::inspect(std::current_exception()).code.message();
    }
    times.push_back(ms(steady::now() - t0));
  }
  const auto s = summarize(times);
  std::printf("%-23s one call %7.1f ms (min %7.1f, max %7.1f)  outcome: %s\n", label, s.median,
              s.min, s.max, outcome.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  bool real_az = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--real-az") {
      real_az = true;
    } else {
      rounds = std::max(1, std::atoi(argv[i]));
    }
  }
  const auto hedge = default_azure_credential_options{}.hedge_delay;
  std::printf(
      "default_azure_credential cold start, %d rounds, hedge delay %lld ms, fake az "
      "answers after 300 ms\n",
      rounds, static_cast<long long>(hedge.count()));

  struct scenario {
    const char* name;
    endpoint_kind endpoint;
  };
  const scenario scenarios[] = {{"laptop", endpoint_kind::refused},
                                {"black-holed", endpoint_kind::black_holed},
                                {"azure-vm", endpoint_kind::answers}};
  int status = 0;
  for (const auto& s : scenarios) {
    for (const auto mode : {chain_options::mode::concurrent, chain_options::mode::sequential}) {
      std::vector<round_result> results;
      for (int i = 0; i < rounds; ++i) results.push_back(run_round(s.endpoint, mode, hedge));
      report(s.name, mode == chain_options::mode::concurrent ? "concurrent" : "sequential",
             results);
      // Where managed identity answers, az must never have been started.
      if (s.endpoint == endpoint_kind::answers) {
        for (const auto& r : results) status |= r.az_started != 0 ? 1 : 0;
      }
    }
  }

  // What the hedge delay weighs: an answer on loopback versus starting a CLI.
  cli_cost("fake az (sh, no delay)", std::string(KEYLESS_FAKES_DIR) + "/az",
           {{"FAKE_CLI_STDOUT", std::string(cli_answer)}}, rounds);
  if (real_az) {
    temp_dir config;
    cli_cost("real az (no login)", "az", {{"AZURE_CONFIG_DIR", config.path.string()}}, rounds);
  }
  if (status != 0) std::printf("FAILED: az was started although managed identity answered\n");
  return status;
}
