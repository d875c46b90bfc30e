#pragma once
// Cutting a byte stream into pieces, as reads from a socket would deliver it:
// for checking that sans-I/O parsers give the same result for every split.

#include <algorithm>
#include <cstddef>
#include <random>
#include <string_view>
#include <vector>

namespace keyless::testing {

/// `text` cut at the given offsets (sorted, inside the text).
inline std::vector<std::string_view> split_at(std::string_view text,
                                              const std::vector<std::size_t>& cuts) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    pieces.push_back(text.substr(start, cut - start));
    start = cut;
  }
  pieces.push_back(text.substr(start));
  return pieces;
}

/// Every offset inside a text of `size` bytes: pieces of one byte.
inline std::vector<std::size_t> every_offset(std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < size; ++i) cuts.push_back(i);
  return cuts;
}

/// 2 to 11 sorted offsets in [0, size], for 3 to 12 pieces (some may be empty).
inline std::vector<std::size_t> random_cuts(std::mt19937& rng, std::size_t size) {
  std::uniform_int_distribution<std::size_t> count(2, 11);
  std::uniform_int_distribution<std::size_t> offset(0, size);
  std::vector<std::size_t> cuts(count(rng));
  for (auto& c : cuts) c = offset(rng);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

}  // namespace keyless::testing
