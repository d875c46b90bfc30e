#pragma once
// For keyless's own makers of shared fields: a field whose bytes were checked once (when its
// token was made) is marked checked on each request's copy without scanning it again.

#include "keyless/core/error.hpp"
#include "keyless/http/request.hpp"

namespace keyless::http::detail {

struct shared_field_access {
  static void mark_checked(shared_field& field) noexcept { field.checked_ = true; }
};

/// Whether checked_field(field) would succeed. A field that would not is sent unchecked, so the
/// request fails naming the field.
inline bool sendable(const shared_field& field) {
  try {
    (void)checked_field(field);
    return true;
  } catch (const keyless::error&) {
    return false;
  }
}

}  // namespace keyless::http::detail
