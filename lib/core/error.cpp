#include "keyless/core/error.hpp"

namespace keyless {
namespace {

class keyless_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "keyless"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::credential_unavailable: return "credential unavailable";
      case errc::authentication_failed: return "authentication failed";
      case errc::http_status: return "HTTP error status";
      case errc::malformed_response: return "malformed response";
      case errc::timeout: return "timed out";
      case errc::connection_failed: return "connection failed";
      case errc::tls_failed: return "TLS failure";
      case errc::limit_exceeded: return "limit exceeded";
      case errc::invalid_argument: return "invalid argument";
      case errc::process_failed: return "helper process failed";
      case errc::throttled: return "throttled after a recent failure";
    }
    return "unknown keyless error";
  }
};

}  // namespace

const std::error_category& keyless_category() noexcept {
  static const keyless_error_category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), keyless_category()}; }

error::error(errc code, const std::string& message, diagnostics details)
    : error(make_error_code(code), message, std::move(details)) {}

error::error(std::error_code code, const std::string& message, diagnostics details)
    : std::system_error(code, message), message_(message), details_(std::move(details)) {}

inspection inspect(std::exception_ptr e) noexcept {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const error& ex) {
    return {ex.code(), ex.what(), ex.details()};
  } catch (const std::system_error& ex) {
    return {ex.code(), ex.what(), {}};
  } catch (const std::exception& ex) {
    return {std::make_error_code(std::errc::io_error), ex.what(), {}};
  } catch (...) {
    return {std::make_error_code(std::errc::io_error), "unknown exception", {}};
  }
}

}  // namespace keyless
