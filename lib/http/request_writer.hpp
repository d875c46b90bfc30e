#pragma once
// serialize_head() in two steps, so that a request is checked when it is prepared and written
// straight into a connection's reusable send buffer when it goes out.

#include <string>

#include "keyless/http/request.hpp"

namespace keyless::http::detail {

/// Throws what serialize_head() throws for `req`; returns when it would succeed.
void check_head(const request& req, bool absolute_form);

/// Appends the head serialize_head() returns; `req` must have passed check_head().
void append_head(std::string& out, const request& req, bool absolute_form);

}  // namespace keyless::http::detail
