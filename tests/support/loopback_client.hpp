#pragma once
// Client-side settings for talking to the loopback fakes.

#include <chrono>
#include <cstdint>
#include <string>

#include "keyless/http/client_options.hpp"

namespace keyless::testing {

/// A loopback port nothing listens on (bound, then closed again): connecting is refused.
std::uint16_t closed_port();

/// HTTP client options that trust `ca_pem` only (not the system store) and never take a proxy
/// from the environment; connects time out after 5 s, requests after `request_timeout`.
keyless::http::client_options trusting(
    const std::string& ca_pem,
    std::chrono::milliseconds request_timeout = std::chrono::seconds(20));

}  // namespace keyless::testing
