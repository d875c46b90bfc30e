#pragma once
// Private logging front end: formats only when an installed sink wants the level.

#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "keyless/core/log.hpp"

namespace keyless::detail {

bool log_enabled(log_level level) noexcept;
void log_write(log_level level, std::string_view message);

template <typename... Args>
void log(log_level level, fmt::format_string<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_write(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace keyless::detail
