#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request imds_request(const mi_source_config& source, const managed_identity_id& id,
                           std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  append_query(r.target, "api-version", "2018-02-01");
  append_query(r.target, "resource", resource);
  append_identity(r.target, id, {"client_id", "object_id", "msi_res_id"});
  // IMDS refuses requests without it: proof that the caller is not a redirected browser
  // or an SSRF'd fetch, which cannot set custom headers.
  r.headers.set("Metadata", "true");
  return r;
}

}  // namespace keyless::identity::detail
