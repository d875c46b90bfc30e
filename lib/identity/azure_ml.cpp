#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request azure_ml_request(const mi_source_config& source, const managed_identity_id& id,
                               std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  append_query(r.target, "api-version", "2017-09-01");
  append_query(r.target, "resource", resource);
  // Azure ML compute names its system identity in DEFAULT_IDENTITY_CLIENT_ID and expects it;
  // legacy App Service 2017 sets no such variable and takes no clientid for it.
  if (id.type == managed_identity_id::kind::client_id) {
    append_query(r.target, "clientid", id.value);
  } else if (!source.default_client_id.empty()) {
    append_query(r.target, "clientid", source.default_client_id);
  }
  r.headers.set("secret", source.secret);
  r.headers.set("Metadata", "true");
  return r;
}

}  // namespace keyless::identity::detail
