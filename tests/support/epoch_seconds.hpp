#pragma once
// Whole seconds since the Unix epoch: the unit of the JWT claims and token-response fields the
// fakes write.

#include <chrono>
#include <cstdint>

namespace keyless::testing {

inline std::int64_t epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace keyless::testing
