#pragma once
// A fixed-size log-linear histogram of durations: recording never allocates, so a long run's
// memory stays flat (and the peak-memory figure measures the client, not the load generator),
// and per-thread histograms merge exactly.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace keyless::cli::bench {

/// Durations in nanoseconds with at most 1/64 (1.6 %) relative error: values below 128 ns are
/// exact, above that each power of two is split into 64 equal buckets. count, min, max and the
/// mean are exact. Thread-safety: one writer at a time (a plain value).
class histogram {
 public:
  void record(std::chrono::nanoseconds value) noexcept;
  void merge(const histogram& other) noexcept;
  void clear() noexcept { *this = histogram{}; }

  std::uint64_t count() const noexcept { return count_; }
  /// Zero when empty.
  std::chrono::nanoseconds min() const noexcept;
  std::chrono::nanoseconds max() const noexcept { return std::chrono::nanoseconds(max_); }
  std::chrono::nanoseconds mean() const noexcept;
  /// The value at `percent` (0-100]: the smallest recorded value v with at least percent % of
  /// the records <= v, to the bucket's resolution (the middle of the bucket, kept within
  /// [min, max]); the exact max when that is the last record. Zero when empty.
  std::chrono::nanoseconds percentile(double percent) const noexcept;

 private:
  static constexpr unsigned sub_bucket_bits = 6;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  static constexpr std::size_t bucket_count = (64 - sub_bucket_bits) * sub_buckets;

  static std::size_t index_of(std::uint64_t value) noexcept;
  static std::uint64_t lowest_of(std::size_t index) noexcept;
  static std::uint64_t highest_of(std::size_t index) noexcept;

  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  // Sum in long double: 2^64 ns is 584 years, but a sum of many long latencies can get close
  // enough to lose integer precision; the mean needs no more than that.
  long double sum_ = 0;
};

}  // namespace keyless::cli::bench
