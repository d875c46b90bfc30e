#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request imds_request(const mi_source_config& source, const managed_identity_id& id,
                           std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  append_query(r.target, "api-version", "2018-02-01");
  append_query(r.target, "resource", resource);
  switch (id.type) {
    case managed_identity_id::kind::system_assigned:
      break;
    case managed_identity_id::kind::client_id:
      append_query(r.target, "client_id", id.value);
      break;
    case managed_identity_id::kind::object_id:
      append_query(r.target, "object_id", id.value);
      break;
    case managed_identity_id::kind::resource_id:
      append_query(r.target, "msi_res_id", id.value);
      break;
  }
  // IMDS refuses requests without it: proof that the caller is not a redirected browser
  // or an SSRF'd fetch, which cannot set custom headers.
  r.headers.set("Metadata", "true");
  return r;
}

}  // namespace keyless::identity::detail
