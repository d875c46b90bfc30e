#pragma once

#include <optional>
#include <string>
#include <vector>

namespace keyless::identity {

/// What a caller asks a credential for.
struct token_request {
  std::vector<std::string> scopes;    ///< e.g. {"https://cognitiveservices.azure.com/.default"}
  std::optional<std::string> tenant;  ///< another tenant than the credential's own, if allowed
  std::optional<std::string> claims;  ///< a CAE claims challenge (decoded JSON); bypasses caches
  bool enable_cae = false;            ///< ask for a CAE-capable token (xms_cc=CP1)
};

}  // namespace keyless::identity
