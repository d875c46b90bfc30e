#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request service_fabric_request(const mi_source_config& source, std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  append_query(r.target, "api-version", "2019-07-01-preview");
  append_query(r.target, "resource", resource);
  r.headers.set("Secret", source.secret);
  return r;
}

}  // namespace keyless::identity::detail
