#include "identity/expiry_parse.hpp"

#include <array>
#include <ctime>
#include <limits>

namespace keyless::identity::detail {
namespace {

using namespace std::chrono;

// A cursor over the text; every read either consumes exactly what it
// matched or fails.
class scanner {
 public:
  explicit scanner(std::string_view text) : text_(text) {}

  bool done() const noexcept { return i_ == text_.size(); }

  bool literal(char c) noexcept {
    if (i_ < text_.size() && text_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  bool literal(std::string_view word) noexcept {
    if (text_.substr(i_, word.size()) == word) {
      i_ += word.size();
      return true;
    }
    return false;
  }

  // Between `min` and `max` decimal digits.
  bool number(int min, int max, int& out) noexcept {
    int value = 0;
    int count = 0;
    while (count < max && i_ < text_.size() && text_[i_] >= '0' && text_[i_] <= '9') {
      value = value * 10 + (text_[i_] - '0');
      ++i_;
      ++count;
    }
    out = value;
    return count >= min;
  }

  // A '.' followed by one or more digits, if present. Fractions of a second
  // are dropped: an expiry read a fraction early is harmless.
  bool optional_fraction() noexcept {
    if (!literal('.')) return true;
    int digits = 0;
    while (i_ < text_.size() && text_[i_] >= '0' && text_[i_] <= '9') {
      ++i_;
      ++digits;
    }
    return digits > 0;
  }

  // One of `words`; returns its index or -1.
  template <std::size_t N>
  int one_of(const std::array<std::string_view, N>& words) noexcept {
    for (std::size_t k = 0; k < N; ++k) {
      if (literal(words[k])) return static_cast<int>(k);
    }
    return -1;
  }

 private:
  std::string_view text_;
  std::size_t i_ = 0;
};

// Civil UTC fields to seconds since the epoch; nothing for impossible dates
// (Feb 30) or times. A leap second (:60) counts as the next second.
std::optional<sys_seconds> civil(int y, int mo, int d, int h, int mi, int s) noexcept {
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return sys_seconds{sys_days{date}} + hours{h} + minutes{mi} + seconds{s};
}

// "Z" / "z" or "+HH:MM" / "-HH:MM": seconds east of UTC.
bool zone(scanner& in, seconds& offset) noexcept {
  if (in.literal('Z') || in.literal('z')) {
    offset = seconds{0};
    return true;
  }
  int sign = 0;
  if (in.literal('+')) {
    sign = 1;
  } else if (in.literal('-')) {
    sign = -1;
  } else {
    return false;
  }
  int h = 0, m = 0;
  if (!in.number(2, 2, h) || !in.literal(':') || !in.number(2, 2, m) || h > 23 || m > 59) {
    return false;
  }
  offset = seconds{sign * (h * 3600 + m * 60)};
  return true;
}

constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu",
                                                    "Fri", "Sat", "Sun"};

}  // namespace

std::optional<std::uint64_t> parse_exact_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value > max) return std::nullopt;
  return value;
}

std::optional<sys_seconds> parse_rfc3339(std::string_view text) {
  scanner in(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  seconds offset{0};
  if (!in.number(4, 4, y) || !in.literal('-') || !in.number(2, 2, mo) || !in.literal('-') ||
      !in.number(2, 2, d)) {
    return std::nullopt;
  }
  if (!in.literal('T') && !in.literal('t') && !in.literal(' ')) return std::nullopt;
  if (!in.number(2, 2, h) || !in.literal(':') || !in.number(2, 2, mi) || !in.literal(':') ||
      !in.number(2, 2, s) || !in.optional_fraction() || !zone(in, offset) || !in.done()) {
    return std::nullopt;
  }
  const auto local = civil(y, mo, d, h, mi, s);
  if (!local) return std::nullopt;
  return *local - offset;
}

std::optional<sys_seconds> parse_rfc1123(std::string_view text) {
  scanner in(text);
  int d = 0, y = 0, h = 0, mi = 0, s = 0;
  // The weekday is required but not cross-checked against the date: it
  // carries no information, and a server that gets it wrong still means
  // the date it wrote.
  if (in.one_of(day_names) < 0 || !in.literal(", ") || !in.number(1, 2, d) || !in.literal(' ')) {
    return std::nullopt;
  }
  const int mo = in.one_of(month_names) + 1;
  if (mo == 0 || !in.literal(' ') || !in.number(4, 4, y) || !in.literal(' ') ||
      !in.number(2, 2, h) || !in.literal(':') || !in.number(2, 2, mi) || !in.literal(':') ||
      !in.number(2, 2, s) || !in.literal(" GMT") || !in.done()) {
    return std::nullopt;
  }
  return civil(y, mo, d, h, mi, s);
}

std::optional<sys_seconds> parse_app_service_time(std::string_view text) {
  scanner in(text);
  int mo = 0, d = 0, y = 0, h = 0, mi = 0, s = 0;
  seconds offset{0};
  if (!in.number(1, 2, mo) || !in.literal('/') || !in.number(1, 2, d) || !in.literal('/') ||
      !in.number(4, 4, y) || !in.literal(' ') || !in.number(1, 2, h) || !in.literal(':') ||
      !in.number(2, 2, mi) || !in.literal(':') || !in.number(2, 2, s) || !in.literal(' ')) {
    return std::nullopt;
  }
  // Windows hosts write a 12-hour clock with AM/PM.
  if (in.literal("AM ")) {
    if (h < 1 || h > 12) return std::nullopt;
    if (h == 12) h = 0;
  } else if (in.literal("PM ")) {
    if (h < 1 || h > 12) return std::nullopt;
    if (h != 12) h += 12;
  }
  if (!zone(in, offset) || !in.done()) return std::nullopt;
  const auto local = civil(y, mo, d, h, mi, s);
  if (!local) return std::nullopt;
  return *local - offset;
}

std::optional<sys_seconds> parse_expires_on_text(std::string_view text) {
  if (auto t = parse_rfc3339(text)) return t;
  if (auto epoch = parse_exact_decimal(text, max_epoch_seconds)) {
    return sys_seconds{seconds{static_cast<seconds::rep>(*epoch)}};
  }
  if (auto t = parse_rfc1123(text)) return t;
  return parse_app_service_time(text);
}

std::optional<sys_seconds> parse_local_time(std::string_view text) {
  scanner in(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!in.number(4, 4, y) || !in.literal('-') || !in.number(2, 2, mo) || !in.literal('-') ||
      !in.number(2, 2, d) || !(in.literal(' ') || in.literal('T')) || !in.number(2, 2, h) ||
      !in.literal(':') || !in.number(2, 2, mi) || !in.literal(':') || !in.number(2, 2, s) ||
      !in.optional_fraction() || !in.done()) {
    return std::nullopt;
  }
  // Validate first: mktime would silently normalise "Feb 30" to March.
  if (!civil(y, mo, d, h, mi, s)) return std::nullopt;
  std::tm fields{};
  fields.tm_year = y - 1900;
  fields.tm_mon = mo - 1;
  fields.tm_mday = d;
  fields.tm_hour = h;
  fields.tm_min = mi;
  fields.tm_sec = s;
  fields.tm_isdst = -1;  // let the zone rules decide whether DST applies
  const std::time_t t = std::mktime(&fields);
  if (t == static_cast<std::time_t>(-1) && fields.tm_year != 69) return std::nullopt;
  return sys_seconds{seconds{static_cast<seconds::rep>(t)}};
}

system_clock::time_point to_time_point(sys_seconds value) noexcept {
  using tp = system_clock::time_point;
  constexpr auto max_seconds = duration_cast<seconds>(tp::duration::max()).count();
  constexpr auto min_seconds = duration_cast<seconds>(tp::duration::min()).count();
  const auto count = value.time_since_epoch().count();
  if (count >= max_seconds) return tp::max();
  if (count <= min_seconds) return tp::min();
  return tp{duration_cast<tp::duration>(value.time_since_epoch())};
}

system_clock::time_point add_seconds(system_clock::time_point now, std::uint64_t value) noexcept {
  using tp = system_clock::time_point;
  constexpr auto max_seconds =
      static_cast<std::uint64_t>(duration_cast<seconds>(tp::duration::max()).count());
  if (value >= max_seconds) return tp::max();
  const auto delta = duration_cast<tp::duration>(seconds{static_cast<seconds::rep>(value)});
  if (now > tp::max() - delta) return tp::max();
  return now + delta;
}

}  // namespace keyless::identity::detail
