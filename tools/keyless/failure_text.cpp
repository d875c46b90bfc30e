#include "failure_text.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "keyless/core/error.hpp"

namespace keyless::cli {

std::string describe_failure(std::string_view command, std::exception_ptr failure) {
  std::string text;
  try {
    std::rethrow_exception(failure);
  } catch (const keyless::error& e) {
    text = fmt::format("keyless {}: {}", command, e.message());
    if (!e.details().request_id.empty()) {
      text += fmt::format("\n(request id {})", e.details().request_id);
    }
  } catch (const std::exception& e) {
    text = fmt::format("keyless {}: {}", command, e.what());
  } catch (...) {
    text = fmt::format("keyless {}: failed for an unknown reason", command);
  }
  return text;
}

inspection inspect_failure(std::exception_ptr failure) {
  auto out = inspect(failure);
  try {
    std::rethrow_exception(failure);
  } catch (const keyless::error& e) {
    out.message = e.message();
  } catch (...) {
  }
  return out;
}

void print_failure(std::string_view command, std::exception_ptr failure) {
  const auto text = describe_failure(command, failure);
  std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace keyless::cli
