#pragma once
// Parsers for every way an identity service or CLI writes a point in time
// or a lifetime (PROTOCOLS.md §4.3, §5.2, §6.1). Sans-I/O and allocation-free;
// each returns nothing when the text is not exactly in its format.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace keyless::identity::detail {

using sys_seconds = std::chrono::sys_seconds;

/// Largest epoch value accepted: 9999-12-31T23:59:59Z.
inline constexpr std::uint64_t max_epoch_seconds = 253'402'300'799;
/// Largest relative lifetime accepted (expires_in, refresh_in): INT32_MAX.
inline constexpr std::uint64_t max_relative_seconds = 2'147'483'647;

/// An unsigned decimal integer written exactly: digits only, no sign, no
/// spaces, no fraction, no exponent ("+3600", " 3600", "3600.0", "" fail);
/// nothing when larger than `max`.
std::optional<std::uint64_t> parse_exact_decimal(std::string_view text, std::uint64_t max);

/// RFC 3339 date-time with a zone: "2024-01-01T00:00:00Z",
/// "3333-11-22T04:05:06.000Z", "2024-01-01 10:00:00.5+02:00" (the RFC's
/// space separator and lower-case t/z allowed). The fraction is dropped.
std::optional<sys_seconds> parse_rfc3339(std::string_view text);

/// RFC 1123 (HTTP-date): "Sun, 22 Nov 3333 04:05:06 GMT".
std::optional<sys_seconds> parse_rfc1123(std::string_view text);

/// App Service 2017-09-01's OS-dependent strings, in UTC with an offset:
/// "06/20/2019 02:57:58 +00:00" (Linux) and "1/16/2020 5:24:12 AM +00:00"
/// (Windows).
std::optional<sys_seconds> parse_app_service_time(std::string_view text);

/// A string `expires_on`: RFC 3339, then an exact decimal epoch
/// (≤ max_epoch_seconds), then RFC 1123, then the App Service 2017 forms.
std::optional<sys_seconds> parse_expires_on_text(std::string_view text);

/// The Azure CLI's `expiresOn`: a zone-less local time of the az process,
/// "2023-10-31 21:59:10.000000" or without the fraction (a 'T' separator is
/// accepted too), converted with mktime (tm_isdst = -1) in this process's
/// time zone. In the repeated hour at the end of daylight saving time the
/// answer may be an hour off; that is why the epoch `expires_on` is preferred.
std::optional<sys_seconds> parse_local_time(std::string_view text);

/// `seconds` since the epoch as a system_clock time point, saturating at
/// time_point::max() (libstdc++'s nanosecond clock ends in 2262, before
/// max_epoch_seconds).
std::chrono::system_clock::time_point to_time_point(sys_seconds seconds) noexcept;

/// `now + seconds`, saturating likewise.
std::chrono::system_clock::time_point add_seconds(std::chrono::system_clock::time_point now,
                                                  std::uint64_t seconds) noexcept;

}  // namespace keyless::identity::detail
