#include "keyless/identity/access_token.hpp"

#include <ostream>

namespace keyless::identity {

access_token::access_token(std::string token, time_point expires_on, time_point refresh_on)
    : bytes_(std::make_shared<const std::string>(std::move(token))),
      expires_on_(expires_on),
      refresh_on_(refresh_on == time_point{} ? expires_on : refresh_on) {}

std::ostream& operator<<(std::ostream& os, const access_token& t) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(t.expires_on().time_since_epoch());
  return os << "access_token(<redacted " << t.token().size()
            << " bytes>, expires_on=" << seconds.count() << ")";
}

}  // namespace keyless::identity
