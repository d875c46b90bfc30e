#pragma once
// The explanations keyless doctor prints: what to do without an identity, whether a token's
// audience fits an endpoint, and the fix for a refused request. Pure text functions, so the
// wording is decided in one place.

#include <chrono>
#include <string>
#include <string_view>

#include "keyless/core/error.hpp"
#include "keyless/identity/chained_token_credential.hpp"
#include "openai_target.hpp"

namespace keyless::cli {

/// `text` with every line after the first prefixed by `prefix`.
std::string indent(std::string_view text, std::string_view prefix);

/// Whether a program named `name` is found on PATH.
bool on_path(std::string_view name);

/// Whether this process seems to run in a container (/.dockerenv, /run/.containerenv or
/// KUBERNETES_SERVICE_HOST).
bool in_container();

/// How to give the program an identity when no source of the chain worked, including what to
/// mount or set in a container that has no az.
std::string no_identity_advice(const identity::chain_report& report);

struct audience_check {
  bool fits = true;
  std::string text;  ///< one paragraph, ending in a newline
};

/// Compares the token's `audience` (or, when empty, the requested `scope`) with what
/// `endpoint` accepts.
audience_check check_audience(std::string_view endpoint, std::string_view scope,
                              std::string_view audience);

/// The failure of the doctor's request, with why and how to fix it.
std::string explain_request_failure(const inspection& failure, const openai_target& target,
                                    std::string_view scope, std::string_view object_id,
                                    std::chrono::milliseconds elapsed);

}  // namespace keyless::cli
