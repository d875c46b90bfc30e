#include "openai/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <vector>

#include <fmt/core.h>
#include "core/text.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::openai {
namespace {

using std::chrono::milliseconds;

// A non-negative decimal number ("6", "1500.5"); nothing else.
std::optional<double> parse_number(std::string_view s) {
  s = keyless::detail::trim(s);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '.'))
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::fixed);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

milliseconds to_ms(double ms) {
  // Clamp before converting: a hostile "1e300" must not overflow the cast.
  constexpr double limit = 1e15;
  return milliseconds(static_cast<milliseconds::rep>(std::llround(std::min(ms, limit))));
}

bool retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

std::string seconds_text(milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

// Lower-cases ASCII letters into a small buffer for month/day names.
std::optional<int> parse_int(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string_view> find_header(const http::fields& headers,
                                            std::string_view name) noexcept {
  for (const auto& [key, value] : headers)
    if (http::iequals(key, name)) return std::string_view(value);
  return std::nullopt;
}

std::optional<clock::time_point> parse_http_date(std::string_view text) {
  // Split on the separators the three formats use; then every token has one
  // shape: weekday, month name, day, year, hh:mm:ss or the zone.
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '-')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != ',' && text[i] != '-') ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
    if (tokens.size() > 7) return std::nullopt;
  }
  static constexpr std::array<std::string_view, 12> months{
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  static constexpr std::array<std::string_view, 14> weekdays{
      "mon",    "tue",     "wed",       "thu",      "fri",    "sat",      "sun",
      "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  std::optional<int> month, day, year, hour, minute, second;
  bool two_digit_year = false;
  for (auto token : tokens) {
    auto t = keyless::detail::ascii_lower(token);
    if (t == "gmt" || t == "utc") continue;
    if (std::find(weekdays.begin(), weekdays.end(), t) != weekdays.end()) continue;
    if (auto m = std::find(months.begin(), months.end(), t); m != months.end()) {
      if (month) return std::nullopt;
      month = static_cast<int>(m - months.begin()) + 1;
      continue;
    }
    if (token.size() == 8 && token[2] == ':' && token[5] == ':') {
      if (hour) return std::nullopt;
      hour = parse_int(token.substr(0, 2));
      minute = parse_int(token.substr(3, 2));
      second = parse_int(token.substr(6, 2));
      if (!hour || !minute || !second) return std::nullopt;
      continue;
    }
    auto n = parse_int(token);
    if (!n) return std::nullopt;  // an unknown zone or junk
    if (!day && token.size() <= 2) {
      day = n;
    } else if (!year && (token.size() == 4 || token.size() == 2)) {
      year = n;
      two_digit_year = token.size() == 2;
    } else {
      return std::nullopt;
    }
  }
  if (!month || !day || !year || !hour) return std::nullopt;
  // RFC 850's two-digit years: RFC 9110 says to read them as the most recent
  // past year with those digits; for the near future of this library, 70..99
  // is the 1900s and the rest the 2000s.
  if (two_digit_year) *year += *year >= 70 ? 1900 : 2000;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{*year},
                                  std::chrono::month{static_cast<unsigned>(*month)},
                                  std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok()) return std::nullopt;
  auto t = std::chrono::sys_days{ymd} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
           std::chrono::seconds{*second};
  return std::chrono::time_point_cast<clock::duration>(t);
}

std::optional<milliseconds> server_retry_delay(const http::fields& headers, clock::time_point now) {
  // Milliseconds first: finer than retry-after and sent by Azure OpenAI next
  // to it; x-ms-retry-after-ms is the older Azure spelling.
  for (std::string_view name : {"retry-after-ms", "x-ms-retry-after-ms"}) {
    if (auto v = find_header(headers, name))
      if (auto ms = parse_number(*v)) return to_ms(*ms);
  }
  if (auto v = find_header(headers, "retry-after")) {
    if (auto s = parse_number(*v)) return to_ms(*s * 1000.0);
    if (auto date = parse_http_date(keyless::detail::trim(*v)))
      return std::chrono::duration_cast<milliseconds>(*date - now);
  }
  return std::nullopt;
}

milliseconds backoff_delay(int retries_so_far, const retry_options& options, double unit) {
  unit = std::clamp(unit, 0.0, 1.0);
  const int exponent = std::clamp(retries_so_far, 0, 30);
  const double base =
      std::min(static_cast<double>(options.initial_delay.count()) * std::ldexp(1.0, exponent),
               static_cast<double>(options.max_delay.count()));
  return to_ms(base * (1.0 - 0.25 * unit));
}

retry_decision decide_retry(const attempt_outcome& outcome, int retries_so_far,
                            const retry_options& options, clock::time_point now,
                            const random_source& random) {
  retry_decision d;
  if (outcome.headers) d.server_delay = server_retry_delay(*outcome.headers, now);

  if (outcome.body_started) {
    d.reason = "the response body had already started, so the request cannot be repeated";
    return d;
  }
  if (retries_so_far >= options.max_retries) {
    d.reason = fmt::format("gave up after {} {}", retries_so_far,
                           retries_so_far == 1 ? "retry" : "retries");
    return d;
  }

  std::optional<std::string_view> should_retry;
  if (outcome.headers) should_retry = find_header(*outcome.headers, "x-should-retry");
  if (should_retry && http::iequals(keyless::detail::trim(*should_retry), "false")) {
    d.reason = "the service said not to retry (x-should-retry: false)";
    return d;
  }
  if (should_retry && http::iequals(keyless::detail::trim(*should_retry), "true")) {
    d.reason = "the service asked for a retry (x-should-retry: true)";
  } else if (!outcome.status) {
    d.reason = "no response arrived";
  } else if (retryable_status(*outcome.status)) {
    d.reason = fmt::format("HTTP {} is retryable", *outcome.status);
  } else {
    d.reason = fmt::format("HTTP {} is not retryable", *outcome.status);
    return d;
  }

  if (d.server_delay && *d.server_delay > options.max_server_delay) {
    d.reason = fmt::format(
        "the service asked to wait {} before retrying, longer than the {} this client waits "
        "(retry_options::max_server_delay)",
        seconds_text(*d.server_delay), seconds_text(options.max_server_delay));
    return d;
  }
  d.retry = true;
  if (d.server_delay && d.server_delay->count() > 0) {
    d.delay = *d.server_delay;
  } else {
    d.delay = backoff_delay(retries_so_far, options, random ? random() : 0.0);
  }
  return d;
}

}  // namespace keyless::openai
