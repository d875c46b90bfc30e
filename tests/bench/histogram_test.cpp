#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>

#include "histogram.hpp"

namespace keyless::bench_test {
namespace {

using keyless::cli::bench::histogram;
using std::chrono::nanoseconds;

// Within the histogram's promised resolution of the exact value.
bool close(nanoseconds got, double exact) {
  return std::abs(static_cast<double>(got.count()) - exact) <= exact / 64.0 + 1.0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bench_histogram)

BOOST_AUTO_TEST_CASE(an_empty_histogram_reports_zeros) {
  const histogram h;
  BOOST_TEST(h.count() == 0u);
  BOOST_TEST(h.min().count() == 0);
  BOOST_TEST(h.max().count() == 0);
  BOOST_TEST(h.mean().count() == 0);
  BOOST_TEST(h.percentile(99).count() == 0);
}

BOOST_AUTO_TEST_CASE(values_below_128_ns_are_exact) {
  histogram h;
  for (std::int64_t v = 0; v < 128; ++v) h.record(nanoseconds(v));
  BOOST_TEST(h.percentile(50).count() == 63);
  BOOST_TEST(h.percentile(100).count() == 127);
  BOOST_TEST(h.min().count() == 0);
}

BOOST_AUTO_TEST_CASE(percentiles_of_a_uniform_spread_are_within_one_sixty_fourth) {
  histogram h;
  // 1 µs .. 10 ms in 1 µs steps: the p-th percentile is p % of 10 ms.
  for (std::int64_t us = 1; us <= 10000; ++us) h.record(std::chrono::microseconds(us));
  BOOST_TEST(h.count() == 10000u);
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) {
    BOOST_TEST(close(h.percentile(p), p / 100.0 * 1e7), p << ": " << h.percentile(p).count());
  }
  BOOST_TEST(h.max().count() == 10'000'000);
  BOOST_TEST(h.min().count() == 1'000);
  BOOST_TEST(h.mean().count() == 5'000'500);
  BOOST_TEST(h.percentile(100).count() == 10'000'000);  // kept within [min, max]
}

BOOST_AUTO_TEST_CASE(merging_equals_recording_everything_in_one) {
  histogram a;
  histogram b;
  histogram both;
  for (std::int64_t v = 1; v < 5000; v += 7) {
    (v % 2 ? a : b).record(nanoseconds(v * 1000));
    both.record(nanoseconds(v * 1000));
  }
  a.merge(b);
  BOOST_TEST(a.count() == both.count());
  BOOST_TEST(a.min() == both.min());
  BOOST_TEST(a.max() == both.max());
  BOOST_TEST(a.mean() == both.mean());
  for (double p : {50.0, 90.0, 99.0}) BOOST_TEST(a.percentile(p) == both.percentile(p));
}

BOOST_AUTO_TEST_CASE(huge_and_negative_values_do_not_break_it) {
  histogram h;
  h.record(nanoseconds(-5));
  h.record(nanoseconds(INT64_MAX));
  BOOST_TEST(h.min().count() == 0);
  BOOST_TEST(h.max().count() == INT64_MAX);
  BOOST_TEST(h.percentile(100).count() == INT64_MAX);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::bench_test
