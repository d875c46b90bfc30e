#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request app_service_request(const mi_source_config& source, const managed_identity_id& id,
                                  std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  append_query(r.target, "api-version", "2019-08-01");
  append_query(r.target, "resource", resource);
  // App Service documents principal_id (object_id is a later alias that MSAL sends); the
  // documented name works on every App Service version that has 2019-08-01.
  append_identity(r.target, id, {"client_id", "principal_id", "mi_res_id"});
  r.headers.set("X-IDENTITY-HEADER", source.secret);
  return r;
}

}  // namespace keyless::identity::detail
