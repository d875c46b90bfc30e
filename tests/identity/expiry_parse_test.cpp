#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <ctime>
#include <string>

#include "cli_test_support.hpp"
#include "identity/expiry_parse.hpp"

namespace d = keyless::identity::detail;
using keyless_test::scoped_tz;
using std::chrono::seconds;

namespace {

std::optional<long long> epoch(std::optional<d::sys_seconds> t) {
  if (!t) return std::nullopt;
  return t->time_since_epoch().count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expiry_parse)

BOOST_AUTO_TEST_CASE(exact_decimal_accepts_only_plain_digits_up_to_the_limit) {
  BOOST_TEST(*d::parse_exact_decimal("3600", d::max_relative_seconds) == 3600u);
  BOOST_TEST(*d::parse_exact_decimal("0", d::max_relative_seconds) == 0u);
  BOOST_TEST(*d::parse_exact_decimal("2147483647", d::max_relative_seconds) == 2147483647u);
  BOOST_TEST(!d::parse_exact_decimal("2147483648", d::max_relative_seconds));
  BOOST_TEST(*d::parse_exact_decimal("253402300799", d::max_epoch_seconds) == 253402300799u);
  BOOST_TEST(!d::parse_exact_decimal("253402300800", d::max_epoch_seconds));
  BOOST_TEST(!d::parse_exact_decimal("99999999999999999999999", d::max_epoch_seconds));
  for (const char* bad : {"+3600", " 3600", "3600 ", "3600.0", "", "-1", "0x10", "1e3", "36 00"}) {
    BOOST_TEST(!d::parse_exact_decimal(bad, d::max_epoch_seconds), "accepted '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_honours_zones_and_drops_fractions) {
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-05-06T07:08:09Z")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-05-06t07:08:09z")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-05-06 07:08:09.999999Z")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-05-06T09:08:09+02:00")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-05-06T02:08:09.5-05:00")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc3339("2024-01-01T00:00:00Z")) == 1704067200);
  BOOST_TEST(*epoch(d::parse_rfc3339("3333-11-22T04:05:06.000Z")) == 43040261106);
  BOOST_TEST(*epoch(d::parse_rfc3339("9999-12-31T23:59:59Z")) == 253402300799);
  for (const char* bad : {"2024-05-06T07:08:09", "2024-05-06", "2024-02-30T00:00:00Z",
                          "2024-13-01T00:00:00Z", "2024-05-06T24:00:00Z", "2024-05-06T07:60:00Z",
                          "2024-05-06T07:08:09.Z", "2024-05-06T07:08:09+2:00", "24-05-06T07:08:09Z",
                          "2024-05-06T07:08:09Z ", "2024-05-06X07:08:09Z", ""}) {
    BOOST_TEST(!d::parse_rfc3339(bad), "accepted '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(rfc1123_needs_the_http_date_shape) {
  BOOST_TEST(*epoch(d::parse_rfc1123("Mon, 06 May 2024 07:08:09 GMT")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc1123("Mon, 6 May 2024 07:08:09 GMT")) == 1714979289);
  BOOST_TEST(*epoch(d::parse_rfc1123("Sun, 22 Nov 3333 04:05:06 GMT")) == 43040261106);
  for (const char* bad : {"Mon, 06 May 2024 07:08:09", "Mon 06 May 2024 07:08:09 GMT",
                          "Mon, 06 Mai 2024 07:08:09 GMT", "Xyz, 06 May 2024 07:08:09 GMT",
                          "Mon, 31 Feb 2024 07:08:09 GMT", "Mon, 06 May 2024 07:08:09 UTC"}) {
    BOOST_TEST(!d::parse_rfc1123(bad), "accepted '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(app_service_2017_linux_and_windows_strings_parse) {
  BOOST_TEST(*epoch(d::parse_app_service_time("06/20/2019 02:57:58 +00:00")) == 1560999478);
  BOOST_TEST(*epoch(d::parse_app_service_time("1/16/2020 5:24:12 AM +00:00")) == 1579152252);
  BOOST_TEST(*epoch(d::parse_app_service_time("1/16/2020 5:24:12 PM +00:00")) ==
             1579152252 + 12 * 3600);
  BOOST_TEST(*epoch(d::parse_app_service_time("1/16/2020 12:24:12 AM +00:00")) ==
             1579152252 - 5 * 3600);
  BOOST_TEST(*epoch(d::parse_app_service_time("1/16/2020 12:24:12 PM +00:00")) ==
             1579152252 + 7 * 3600);
  BOOST_TEST(*epoch(d::parse_app_service_time("06/20/2019 04:57:58 +02:00")) == 1560999478);
  for (const char* bad :
       {"06/20/2019 02:57:58", "13/20/2019 02:57:58 +00:00", "1/16/2020 13:24:12 PM +00:00",
        "1/16/2020 0:24:12 AM +00:00", "2019/06/20 02:57:58 +00:00"}) {
    BOOST_TEST(!d::parse_app_service_time(bad), "accepted '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(expires_on_text_tries_every_format_in_order) {
  BOOST_TEST(*epoch(d::parse_expires_on_text("3333-11-22T04:05:06.000Z")) == 43040261106);
  BOOST_TEST(*epoch(d::parse_expires_on_text("43040261106")) == 43040261106);
  BOOST_TEST(*epoch(d::parse_expires_on_text("Sun, 22 Nov 3333 04:05:06 GMT")) == 43040261106);
  BOOST_TEST(*epoch(d::parse_expires_on_text("06/20/2019 02:57:58 +00:00")) == 1560999478);
  BOOST_TEST(!d::parse_expires_on_text("253402300800"));
  BOOST_TEST(!d::parse_expires_on_text("tomorrow"));
  BOOST_TEST(!d::parse_expires_on_text(""));
}

BOOST_AUTO_TEST_CASE(local_time_follows_the_process_time_zone) {
  {
    scoped_tz utc("UTC0");
    BOOST_TEST(*epoch(d::parse_local_time("2023-10-31 21:59:10.000000")) == 1698789550);
    BOOST_TEST(*epoch(d::parse_local_time("2023-10-31 21:59:10")) == 1698789550);
    BOOST_TEST(*epoch(d::parse_local_time("2023-10-31T21:59:10")) == 1698789550);
  }
  {
    // Central Europe: +1 h in winter, +2 h in summer (DST chosen by mktime).
    scoped_tz cet("CET-1CEST,M3.5.0,M10.5.0/3");
    BOOST_TEST(*epoch(d::parse_local_time("2024-01-01 01:00:00.000000")) == 1704067200);
    BOOST_TEST(*epoch(d::parse_local_time("2024-05-06 09:08:09.123456")) == 1714979289);
  }
  {
    scoped_tz pacific("PST8PDT,M3.2.0,M11.1.0");
    BOOST_TEST(*epoch(d::parse_local_time("2024-05-06 00:08:09")) == 1714979289);
  }
  for (const char* bad : {"2023-10-31 21:59", "2023-02-30 10:00:00", "2023-10-31 21:59:10Z",
                          "2023-10-31 21:59:10.", "31/10/2023 21:59:10", ""}) {
    BOOST_TEST(!d::parse_local_time(bad), "accepted '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(time_points_saturate_instead_of_overflowing) {
  using tp = std::chrono::system_clock::time_point;
  const auto far = d::to_time_point(d::sys_seconds{seconds{253402300799}});
  BOOST_TEST((far == tp::max()));
  const auto near = d::to_time_point(d::sys_seconds{seconds{1700000000}});
  BOOST_TEST(std::chrono::duration_cast<seconds>(near.time_since_epoch()).count() == 1700000000);
  const tp now{seconds{1700000000}};
  BOOST_TEST((d::add_seconds(now, 60) == now + seconds{60}));
  BOOST_TEST((d::add_seconds(now, 99999999999ull) == tp::max()));
  BOOST_TEST((d::add_seconds(tp::max() - seconds{1}, 5) == tp::max()));
}

BOOST_AUTO_TEST_SUITE_END()
