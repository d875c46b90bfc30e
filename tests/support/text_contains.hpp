#pragma once
// Substring check for assertions on messages and bodies (std::string_view::contains is C++23).

#include <string_view>

namespace keyless::testing {

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace keyless::testing
