#pragma once
// How the keyless command reports a failure on stderr.

#include <exception>
#include <string>
#include <string_view>

#include "keyless/core/error.hpp"

namespace keyless::cli {

/// "keyless <command>: <message>" plus the service's request id when there is one. For a
/// keyless::error the message is its own (which already carries the chain's per-source
/// explanation and the most likely fix); never a token, secret or key.
std::string describe_failure(std::string_view command, std::exception_ptr failure);

/// inspect(failure), but with a keyless::error's own message (what() adds the error class).
inspection inspect_failure(std::exception_ptr failure);

/// Writes describe_failure() and a newline to stderr.
void print_failure(std::string_view command, std::exception_ptr failure);

}  // namespace keyless::cli
