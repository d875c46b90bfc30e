#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace keyless::cli::bench {

std::size_t histogram::index_of(std::uint64_t value) noexcept {
  if (value < 2 * sub_buckets) return static_cast<std::size_t>(value);
  // Keep the top sub_bucket_bits + 1 bits: the leading 1 picks the power of two, the
  // rest picks one of sub_buckets equal slices of it.
  const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - 1 - sub_bucket_bits;
  return static_cast<std::size_t>((shift + 1) * sub_buckets + (value >> shift) - sub_buckets);
}

std::uint64_t histogram::lowest_of(std::size_t index) noexcept {
  if (index < 2 * sub_buckets) return index;
  const std::uint64_t shift = index / sub_buckets - 1;
  return (index % sub_buckets + sub_buckets) << shift;
}

std::uint64_t histogram::highest_of(std::size_t index) noexcept {
  if (index < 2 * sub_buckets) return index;
  const std::uint64_t shift = index / sub_buckets - 1;
  return ((index % sub_buckets + sub_buckets + 1) << shift) - 1;
}

void histogram::record(std::chrono::nanoseconds value) noexcept {
  const std::uint64_t v = value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
  ++buckets_[index_of(v)];
  ++count_;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<long double>(v);
}

void histogram::merge(const histogram& other) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::chrono::nanoseconds histogram::min() const noexcept {
  return std::chrono::nanoseconds(count_ == 0 ? 0 : min_);
}

std::chrono::nanoseconds histogram::mean() const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(std::llround(sum_ / static_cast<long double>(count_))));
}

std::chrono::nanoseconds histogram::percentile(double percent) const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  percent = std::clamp(percent, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  if (rank == count_) return max();  // the top record is known exactly
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const std::uint64_t middle = lowest_of(i) + (highest_of(i) - lowest_of(i)) / 2;
      return std::chrono::nanoseconds(std::clamp(middle, min_, max_));
    }
  }
  return max();
}

}  // namespace keyless::cli::bench
