#pragma once
// An access token's times as Unix seconds, the form the recorded CLI and token-endpoint bodies
// carry them in.

#include "epoch_seconds.hpp"
#include "keyless/identity/access_token.hpp"

namespace keyless_test {

inline long long expires_epoch(const keyless::identity::access_token& t) {
  return keyless::testing::epoch_seconds(t.expires_on());
}

inline long long refresh_epoch(const keyless::identity::access_token& t) {
  return keyless::testing::epoch_seconds(t.refresh_on());
}

}  // namespace keyless_test
