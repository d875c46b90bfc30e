#include "report.hpp"

#include <chrono>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "keyless/json/writer.hpp"
#include "keyless/version.hpp"

namespace keyless::cli::bench {
namespace {

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

std::string_view mode_name(auth_mode m) {
  switch (m) {
    case auth_mode::keyless:
      return "keyless";
    case auth_mode::api_key:
      return "api-key";
    case auth_mode::both:
      return "both";
  }
  return "?";
}

// As --http takes it: "1.1", "2" or "auto".
std::string_view http_version_name(http::http_version v) {
  switch (v) {
    case http::http_version::http1_1:
      return "1.1";
    case http::http_version::http2:
      return "2";
    case http::http_version::automatic:
      return "auto";
  }
  return "?";
}

std::optional<double> ratio(double keyless, double api_key) {
  if (api_key == 0) return std::nullopt;
  return keyless / api_key;
}

// One figure of the comparison: how to read it from a mode, and whether it exists.
struct figure {
  std::string_view json_name;
  std::string_view label;
  double (*read)(const mode_figures&);
  bool stream_only;
};

const figure compared[] = {
    {"requests_per_s", "requests/s", [](const mode_figures& m) { return m.requests_per_second(); },
     false},
    {"latency_p50", "latency p50 (ms)",
     [](const mode_figures& m) { return ms(m.tally.latency.percentile(50)); }, false},
    {"latency_p90", "latency p90 (ms)",
     [](const mode_figures& m) { return ms(m.tally.latency.percentile(90)); }, false},
    {"latency_p99", "latency p99 (ms)",
     [](const mode_figures& m) { return ms(m.tally.latency.percentile(99)); }, false},
    {"latency_max", "latency max (ms)",
     [](const mode_figures& m) { return ms(m.tally.latency.max()); }, false},
    {"cpu_us_per_request", "client CPU/request (us)",
     [](const mode_figures& m) { return m.cpu_us_per_request(); }, false},
    {"peak_rss_kib", "peak memory (KiB)",
     [](const mode_figures& m) { return static_cast<double>(m.peak_rss_kib); }, false},
    {"first_chunk_p50", "first chunk p50 (ms)",
     [](const mode_figures& m) { return ms(m.tally.first_chunk.percentile(50)); }, true},
    {"first_chunk_p90", "first chunk p90 (ms)",
     [](const mode_figures& m) { return ms(m.tally.first_chunk.percentile(90)); }, true},
    {"first_chunk_p99", "first chunk p99 (ms)",
     [](const mode_figures& m) { return ms(m.tally.first_chunk.percentile(99)); }, true},
    {"chunks_per_s", "chunks/s", [](const mode_figures& m) { return m.chunks_per_second(); }, true},
};

void write_percentiles(json::writer& w, const histogram& h) {
  w.begin_object()
      .member("p50", ms(h.percentile(50)))
      .member("p90", ms(h.percentile(90)))
      .member("p99", ms(h.percentile(99)))
      .member("max", ms(h.max()))
      .member("mean", ms(h.mean()))
      .end_object();
}

void write_optional(json::writer& w, std::string_view key, std::optional<double> v) {
  w.key(key);
  if (v) {
    w.value(*v);
  } else {
    w.value(nullptr);
  }
}

void write_figures(json::writer& w, const mode_figures& m, bool stream) {
  w.begin_object()
      .member("rounds", m.rounds)
      .member("requests", m.tally.finished())
      .member("succeeded", m.tally.succeeded)
      .member("failed", m.tally.failed)
      .member("http_requests", m.http_requests)
      .member("retries", m.retries)
      .member("auth_retries", m.auth_retries)
      .member("wall_s", m.seconds())
      .member("requests_per_s", m.requests_per_second());
  w.key("latency_ms");
  write_percentiles(w, m.tally.latency);
  w.key("errors_by_status").begin_object();
  for (const auto& [status, n] : m.tally.errors_by_status) {
    w.member(status == 0 ? std::string("none") : std::to_string(status), n);
  }
  w.end_object();
  w.key("errors_by_kind").begin_object();
  for (const auto& [kind, n] : m.tally.errors_by_kind) w.member(kind, n);
  w.end_object();
  w.member("cpu_user_s", seconds(m.cpu_user))
      .member("cpu_system_s", seconds(m.cpu_system))
      .member("cpu_us_per_request", m.cpu_us_per_request())
      .member("peak_rss_kib", m.peak_rss_kib);
  if (m.tokens) {
    w.member("token_fetches", m.tokens->fetches)
        .member("token_fetch_failures", m.tokens->failures)
        .member("token_fetch_ms", ms(m.tokens->fetch_time))
        .member("token_waits", m.tokens->waits)
        .member("token_wait_s", seconds(m.tokens->blocking_time))
        .member("token_wait_share", m.token_wait_share());
  } else {
    for (auto key : {"token_fetches", "token_fetch_failures", "token_fetch_ms", "token_waits",
                     "token_wait_s", "token_wait_share"}) {
      w.member(key, nullptr);
    }
  }
  if (stream) {
    w.key("first_chunk_ms");
    write_percentiles(w, m.tally.first_chunk);
    w.member("chunks", m.tally.chunks).member("chunks_per_s", m.chunks_per_second());
  } else {
    w.member("first_chunk_ms", nullptr).member("chunks", nullptr).member("chunks_per_s", nullptr);
  }
  w.end_object();
}

std::string cell(double v) {
  if (v >= 10000) return fmt::format("{:.0f}", v);
  if (v >= 100) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

}  // namespace

std::string json_report(const bench_options& o, const run_report& run) {
  json::writer w;
  w.begin_object()
      .member("command", "keyless bench")
      .member("version", KEYLESS_VERSION_STRING)
      .member("url", run.url)
      .member("deployment", o.deployment)
      .member("api_version", run.api_version)
      .member("mode", mode_name(o.mode))
      .member("stream", o.stream)
      .member("http", http_version_name(o.http_version))
      .member("concurrency", o.concurrency)
      .member("threads", run.threads)
      .member("max_tokens", o.max_tokens);
  if (o.requests) {
    w.member("requests_per_mode", *o.requests).member("duration_per_mode_s", nullptr);
  } else {
    w.member("requests_per_mode", nullptr).member("duration_per_mode_s", seconds(*o.duration));
  }
  w.member("interrupted", run.interrupted);

  w.key("probes").begin_object();
  for (const auto& [auth, p] : run.probes) {
    w.key(json_name(auth)).begin_object();
    w.member("latency_ms", ms(p.latency)).member("http_requests", p.http_requests);
    if (p.tokens) {
      w.member("token_fetches", p.tokens->fetches)
          .member("token_fetch_ms", ms(p.tokens->fetch_time));
    } else {
      w.member("token_fetches", nullptr).member("token_fetch_ms", nullptr);
    }
    w.end_object();
  }
  w.end_object();

  w.key("results").begin_object();
  for (const auto& [auth, m] : run.modes) {
    w.key(json_name(auth));
    write_figures(w, m, o.stream);
  }
  w.end_object();

  w.key("keyless_vs_api_key");
  const auto a = run.modes.find(round_auth::api_key);
  const auto k = run.modes.find(round_auth::keyless);
  if (a != run.modes.end() && k != run.modes.end()) {
    w.begin_object();
    for (const auto& f : compared) {
      if (f.stream_only && !o.stream) {
        w.member(f.json_name, nullptr);
      } else {
        write_optional(w, f.json_name, ratio(f.read(k->second), f.read(a->second)));
      }
    }
    w.end_object();
  } else {
    w.value(nullptr);
  }
  w.end_object();
  return w.release() + "\n";
}

std::string text_report(const bench_options& o, const run_report& run) {
  std::string out;
  auto line = [&out](std::string_view text) {
    out.append(text);
    out.push_back('\n');
  };
  line(fmt::format("keyless bench: {} {}, HTTP {}, concurrency {}, {} thread{}, {}{}",
                   mode_name(o.mode), o.stream ? "(streamed)" : "(complete)",
                   http_version_name(o.http_version), o.concurrency, run.threads,
                   run.threads == 1 ? "" : "s",
                   o.requests ? fmt::format("{} requests per mode", *o.requests)
                              : fmt::format("{:.1f} s per mode", seconds(*o.duration)),
                   run.interrupted ? " (interrupted)" : ""));
  line(fmt::format("{}  (deployment {}, api-version {})", run.url, o.deployment,
                   run.api_version.empty() ? "none" : run.api_version));

  if (run.modes.empty()) {
    line("no round ran");
    return out;
  }

  std::vector<std::pair<round_auth, const mode_figures*>> columns;
  for (const auto& [auth, m] : run.modes) columns.emplace_back(auth, &m);
  const bool compare = columns.size() == 2;

  std::string header = fmt::format("\n{:<26}", "");
  for (const auto& [auth, m] : columns) header += fmt::format("{:>12}", display_name(auth));
  if (compare) header += fmt::format("{:>18}", "keyless/api-key");
  line(header);

  auto row = [&](std::string_view label, auto value_of, bool with_ratio) {
    std::string text = fmt::format("{:<26}", label);
    std::vector<double> values;
    for (const auto& [auth, m] : columns) {
      const std::optional<double> v = value_of(*m);
      text += fmt::format("{:>12}", v ? cell(*v) : std::string("-"));
      values.push_back(v.value_or(0));
    }
    if (compare && with_ratio) {
      const auto r = ratio(values[1], values[0]);
      // keyless is the second column: std::map orders api_key first.
      text += fmt::format("{:>18}", r ? fmt::format("{:.3f}", *r) : std::string("-"));
    }
    line(text);
  };
  auto count_row = [&](std::string_view label, std::uint64_t (*read)(const mode_figures&)) {
    std::string text = fmt::format("{:<26}", label);
    for (const auto& [auth, m] : columns) text += fmt::format("{:>12}", read(*m));
    line(text);
  };

  count_row("requests", [](const mode_figures& m) { return m.tally.finished(); });
  count_row("errors", [](const mode_figures& m) { return m.tally.failed; });
  for (const auto& f : compared) {
    if (f.stream_only && !o.stream) continue;
    row(
        f.label, [&f](const mode_figures& m) -> std::optional<double> { return f.read(m); }, true);
  }
  {
    std::string text = fmt::format("{:<26}", "token fetches");
    for (const auto& [auth, m] : columns) {
      text += fmt::format("{:>12}", m->tokens ? std::to_string(m->tokens->fetches) : "-");
    }
    line(text);
  }
  row(
      "waiting for tokens (%)",
      [](const mode_figures& m) -> std::optional<double> {
        if (!m.tokens) return std::nullopt;
        return 100.0 * m.token_wait_share();
      },
      false);

  for (const auto& [auth, m] : columns) {
    if (m->tally.failed == 0) continue;
    std::string by_status;
    for (const auto& [status, n] : m->tally.errors_by_status) {
      by_status += fmt::format(" {} x{}",
                               status == 0 ? std::string("no-status") : std::to_string(status), n);
    }
    line(fmt::format("\n{} errors by status:{}", display_name(auth), by_status));
    for (const auto& [kind, n] : m->tally.errors_by_kind) {
      const auto example = m->tally.first_error_by_kind.find(kind);
      line(fmt::format("  {} x{}: {}", kind, n,
                       example != m->tally.first_error_by_kind.end() ? example->second : ""));
    }
  }

  std::string probes = "\nprobe:";
  for (const auto& [auth, p] : run.probes) {
    probes += fmt::format(" {} {:.1f} ms", display_name(auth), ms(p.latency));
    if (p.tokens) {
      probes += fmt::format(" (first token {:.1f} ms)", ms(p.tokens->fetch_time));
    }
    probes += ";";
  }
  probes.pop_back();
  line(probes);
  return out;
}

}  // namespace keyless::cli::bench
