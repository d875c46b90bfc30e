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

/// Whether `e` says the peer closed the connection before the end of a response (the
/// parser's "connection closed before ..." errors). It is reported as malformed_response,
/// but for an idempotent request it is a transport failure worth another try.
inline bool is_cut_short(const keyless::error& e) {
  return e.code() == make_error_code(errc::malformed_response) &&
         std::string_view(e.what()).find("malformed HTTP response: connection closed before") !=
             std::string_view::npos;
}

}  // namespace keyless::http::detail
