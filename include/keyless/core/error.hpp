#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace keyless {

/// Machine-checkable classes of keyless failures.
enum class errc {
  credential_unavailable = 1,  ///< the source cannot even try here; a chain skips it
  authentication_failed,       ///< the source tried and the identity service said no
  http_status,                 ///< a service answered with an error status
  malformed_response,          ///< a peer sent bytes that do not parse
  timeout,                     ///< a deadline passed
  connection_failed,           ///< resolve / connect / reset / closed before a message ended
  tls_failed,                  ///< handshake or certificate verification failed
  limit_exceeded,              ///< a configured size limit was passed
  invalid_argument,            ///< the caller passed something unusable
  process_failed,              ///< a helper program (az, azd) could not run or failed
  throttled,                   ///< a recent failure is being retried later; failing fast
};

const std::error_category& keyless_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

/// One credential source's outcome inside a chain, for error reports.
struct source_attempt {
  std::string source;          ///< e.g. "ManagedIdentityCredential"
  std::error_code code;        ///< credential_unavailable, authentication_failed, ...
  std::string message;         ///< why; never contains a token or secret
  std::chrono::milliseconds elapsed{0};
};

/// Structured detail carried by every keyless::error. Never holds a token or secret.
struct diagnostics {
  std::optional<int> http_status;
  std::string service_code;  ///< e.g. "AADSTS700016" or the OpenAI error.code
  std::string request_id;    ///< x-ms-request-id / apim-request-id when the service sent one
  std::optional<std::chrono::milliseconds> retry_after;
  std::string hint;          ///< the most likely fix, in a sentence
  std::vector<source_attempt> sources;
};

/// The exception thrown by keyless awaitables.
class error : public std::system_error {
 public:
  error(errc code, const std::string& message, diagnostics details = {});
  error(std::error_code code, const std::string& message, diagnostics details = {});

  const diagnostics& details() const noexcept { return details_; }
  /// The message alone, without what()'s ": <error class>" suffix.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
  diagnostics details_;
};

/// What an exception_ptr from a keyless completion holds, without try/catch at the call site.
struct inspection {
  std::error_code code;  ///< empty when the pointer is null
  std::string message;
  diagnostics details;
};
inspection inspect(std::exception_ptr e) noexcept;

}  // namespace keyless

template <>
struct std::is_error_code_enum<keyless::errc> : std::true_type {};
