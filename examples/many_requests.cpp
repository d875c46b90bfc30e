// Many concurrent chat completions on one client and one token provider: the token is fetched
// once and every request reuses it from the cache. Prints throughput and latency.
//
//   export AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com
//   export AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini; ./many_requests 100 [threads]
//
// Mind your deployment's tokens-per-minute quota: against a real resource, a large N is
// answered with 429s, which the client retries after the delay the service asks for.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "keyless/core/error.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "keyless/openai/chat_client.hpp"

namespace {

using steady = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// A positive count from argv, or `fallback`.
long count_arg(int argc, char** argv, int i, long fallback, long max) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  const long n = std::strtol(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0' || n < 1 || n > max) {
    std::fprintf(stderr, "argument %d must be a number from 1 to %ld\n", i, max);
    std::exit(2);
  }
  return n;
}

double ms(steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long requests = count_arg(argc, argv, 1, 100, 1'000'000);
  const long threads = count_arg(argc, argv, 2, 1, 64);
  if (env("AZURE_OPENAI_DEPLOYMENT").empty()) {
    std::fprintf(stderr, "set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT first\n");
    return 2;
  }
  try {
    asio::io_context io(static_cast<int>(threads));
    auto tokens =
        keyless::bearer_token_provider(keyless::default_azure_credential(io.get_executor()),
                                       "https://cognitiveservices.azure.com/.default");
    keyless::openai::chat_client chat(io.get_executor(),
                                      {
                                          .endpoint = env("AZURE_OPENAI_ENDPOINT"),
                                          .deployment = env("AZURE_OPENAI_DEPLOYMENT"),
                                          .auth = tokens,
                                      });

    std::mutex mutex;  // guards the three below; completions may run on several threads
    std::vector<double> latencies;
    latencies.reserve(static_cast<std::size_t>(requests));
    long failures = 0;
    std::string first_error;

    const auto started = steady::now();
    for (long i = 0; i < requests; ++i) {
      keyless::openai::chat_request request{.messages = {{"user", "Say hi in two words."}}};
      request.max_tokens = 16;
      chat.async_complete(
          std::move(request),
          [&, sent = steady::now()](std::exception_ptr e, keyless::openai::chat_completion) {
            const double took = ms(steady::now() - sent);
            std::lock_guard lock(mutex);
            latencies.push_back(took);
            if (e && failures++ == 0) first_error = keyless::inspect(e).message;
          });
    }
    std::vector<std::thread> pool;
    for (long t = 1; t < threads; ++t) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    const double seconds = std::chrono::duration<double>(steady::now() - started).count();

    std::sort(latencies.begin(), latencies.end());
    auto percentile = [&](double p) {
      return latencies.empty()
                 ? 0.0
                 : latencies[std::min(latencies.size() - 1,
                                      static_cast<std::size_t>(p * latencies.size()))];
    };
    const auto stats = chat.stats();
    std::printf("%ld requests (%ld failed) in %.3f s on %ld thread%s: %.0f requests/s\n", requests,
                failures, seconds, threads, threads == 1 ? "" : "s", requests / seconds);
    std::printf("latency p50 %.2f ms, p99 %.2f ms; %llu attempts, %llu retries\n", percentile(0.50),
                percentile(0.99), static_cast<unsigned long long>(stats.attempts),
                static_cast<unsigned long long>(stats.retries));
    if (failures > 0) {
      std::fprintf(stderr, "first error: %s\n", first_error.c_str());
      return 1;
    }
    return 0;
  } catch (const keyless::error& e) {
    std::fprintf(stderr, "error: %s\n", e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
