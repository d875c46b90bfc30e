#include "statistics.hpp"

#include <system_error>

#include <asio/error.hpp>

#include "keyless/core/error.hpp"

namespace keyless::cli::bench {
namespace {

std::string_view errc_name(int value) noexcept {
  switch (static_cast<keyless::errc>(value)) {
    case errc::credential_unavailable:
      return "credential_unavailable";
    case errc::authentication_failed:
      return "authentication_failed";
    case errc::http_status:
      return "http_status";
    case errc::malformed_response:
      return "malformed_response";
    case errc::timeout:
      return "timeout";
    case errc::connection_failed:
      return "connection_failed";
    case errc::tls_failed:
      return "tls_failed";
    case errc::limit_exceeded:
      return "limit_exceeded";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::process_failed:
      return "process_failed";
    case errc::throttled:
      return "throttled";
  }
  return "other";
}

double per_second(double count, std::chrono::nanoseconds wall) noexcept {
  const double s = std::chrono::duration<double>(wall).count();
  return s > 0 ? count / s : 0.0;
}

}  // namespace

std::string error_kind(std::exception_ptr failure) {
  const auto seen = keyless::inspect(failure);
  if (seen.code.category() == keyless::keyless_category()) {
    return std::string(errc_name(seen.code.value()));
  }
  if (seen.code == asio::error::operation_aborted) return "cancelled";
  return "other";
}

void request_tally::record_failure(std::exception_ptr failure) {
  ++failed;
  const auto seen = keyless::inspect(failure);
  ++errors_by_status[seen.details.http_status.value_or(0)];
  std::string kind = error_kind(failure);
  auto [it, fresh] = first_error_by_kind.try_emplace(kind);
  if (fresh) it->second = seen.message.empty() ? seen.code.message() : seen.message;
  ++errors_by_kind[std::move(kind)];
}

void request_tally::merge(const request_tally& other) {
  latency.merge(other.latency);
  first_chunk.merge(other.first_chunk);
  succeeded += other.succeeded;
  failed += other.failed;
  chunks += other.chunks;
  for (const auto& [status, n] : other.errors_by_status) errors_by_status[status] += n;
  for (const auto& [kind, n] : other.errors_by_kind) errors_by_kind[kind] += n;
  for (const auto& [kind, message] : other.first_error_by_kind) {
    first_error_by_kind.try_emplace(kind, message);
  }
}

double mode_figures::requests_per_second() const noexcept {
  return per_second(static_cast<double>(tally.finished()), wall);
}

double mode_figures::cpu_us_per_request() const noexcept {
  if (tally.finished() == 0) return 0.0;
  const double us = std::chrono::duration<double, std::micro>(cpu_user + cpu_system).count();
  return us / static_cast<double>(tally.finished());
}

double mode_figures::chunks_per_second() const noexcept {
  return per_second(static_cast<double>(tally.chunks), wall);
}

double mode_figures::token_wait_share() const noexcept {
  if (!tokens || wall.count() <= 0) return 0.0;
  return std::chrono::duration<double>(tokens->blocking_time).count() / seconds();
}

}  // namespace keyless::cli::bench
