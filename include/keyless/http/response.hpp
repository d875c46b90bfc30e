#pragma once

#include <string>

#include "keyless/http/fields.hpp"

namespace keyless::http {

/// Status line and headers of a response.
struct response_head {
  int status = 0;
  std::string reason;
  int version_major = 1;  ///< HTTP/<major>.<minor>: 1.1, 1.0 or 2.0
  int version_minor = 1;
  fields headers;
};

/// A whole response: head plus the decoded body (chunking removed).
struct response : response_head {
  std::string body;
};

}  // namespace keyless::http
