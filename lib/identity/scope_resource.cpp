#include "identity/scope_resource.hpp"

namespace keyless::identity::detail {

std::string scope_to_resource(std::string_view scope) {
  constexpr std::string_view suffix = "/.default";
  if (scope.ends_with(suffix)) scope.remove_suffix(suffix.size());
  return std::string(scope);
}

}  // namespace keyless::identity::detail
