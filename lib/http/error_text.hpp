#pragma once
// Message helpers shared by the transport files.

#include <string>
#include <string_view>

#include "keyless/core/error.hpp"

namespace keyless::http::detail {

/// The message a keyless::error was built with: std::system_error::what() appends
/// ": <category message>", which would repeat when the error is wrapped again.
inline std::string message_of(const keyless::error& e) {
  std::string_view what = e.what();
  std::string suffix = ": " + e.code().message();
  if (what.size() >= suffix.size() && what.substr(what.size() - suffix.size()) == suffix) {
    what.remove_suffix(suffix.size());
  }
  return std::string(what);
}

/// `e` again, its message prefixed with `context` ("GET https://host/path: ...").
inline keyless::error with_context(const keyless::error& e, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += message_of(e);
  return keyless::error(e.code(), message, e.details());
}

}  // namespace keyless::http::detail
