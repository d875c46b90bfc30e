#pragma once
// Reading the process environment where unset and empty mean the same thing.

#include <cstdlib>
#include <string>

namespace keyless::detail {

/// The value of the environment variable `name`, empty when it is not set.
inline std::string env_value(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

}  // namespace keyless::detail
