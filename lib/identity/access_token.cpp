#include "keyless/identity/access_token.hpp"

#include <ostream>

#include "http/shared_field_access.hpp"

namespace keyless::identity {

namespace {

std::string with_prefix(std::string_view prefix, std::string_view token) {
  std::string bytes;
  bytes.reserve(prefix.size() + token.size());
  bytes.append(prefix).append(token);
  return bytes;
}

}  // namespace

access_token::access_token(std::string token, time_point expires_on, time_point refresh_on)
    : bytes_(std::make_shared<const std::string>(with_prefix(bearer_prefix, token))),
      expires_on_(expires_on),
      refresh_on_(refresh_on == time_point{} ? expires_on : refresh_on) {
  // Checked once here rather than on every request that carries it.
  sendable_ = http::detail::sendable(http::shared_field("Authorization", *bytes_, bytes_));
}

http::shared_field authorization_field(const access_token& token) {
  static constexpr std::string_view empty_value = access_token::bearer_prefix;
  if (!token.bytes_) {
    // Static bytes: a pointer that owns nothing (the aliasing constructor) is enough.
    return {"Authorization", empty_value,
            std::shared_ptr<const void>(std::shared_ptr<const void>(), &empty_value)};
  }
  http::shared_field field("Authorization", *token.bytes_, token.bytes_);
  if (token.sendable_) http::detail::shared_field_access::mark_checked(field);
  return field;
}

std::ostream& operator<<(std::ostream& os, const access_token& t) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(t.expires_on().time_since_epoch());
  return os << "access_token(<redacted " << t.token().size()
            << " bytes>, expires_on=" << seconds.count() << ")";
}

}  // namespace keyless::identity
