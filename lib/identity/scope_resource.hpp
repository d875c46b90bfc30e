#pragma once

#include <string>
#include <string_view>

namespace keyless::identity::detail {

/// The resource for a scope, as managed identity endpoints and `az --resource` want it:
/// a trailing "/.default" removed, nothing else ("https://x/.default" → "https://x").
std::string scope_to_resource(std::string_view scope);

}  // namespace keyless::identity::detail
