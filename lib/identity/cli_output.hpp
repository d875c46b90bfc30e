#pragma once
// Parsing of what `az account get-access-token --output json` and
// `azd auth token --output json` print on success (PROTOCOLS.md §5.2, §5.4).
// Sans-I/O.

#include <string>

#include "keyless/identity/access_token.hpp"

namespace keyless::identity::detail {

/// az: `accessToken` (string, required); expiry from `expires_on` (epoch
/// integer or exact decimal string; newer az) when present, else from
/// `expiresOn`, the az process's local time without a zone, with or without
/// a fraction ("2023-10-31 21:59:10.000000"), read in this process's time
/// zone (the same as az's, since az inherits our environment).
/// Throws keyless::error(errc::malformed_response) naming the field.
access_token parse_az_output(std::string& out);

/// azd: `token` (string, required) and `expiresOn`, an RFC 3339 time in
/// UTC ("2024-01-01T00:00:00Z"). Read as UTC: Python's azd credential reads
/// it as local time, which is wrong outside UTC.
/// Throws keyless::error(errc::malformed_response) naming the field.
access_token parse_azd_output(std::string& out);

}  // namespace keyless::identity::detail
