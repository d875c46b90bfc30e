#include "identity/managed_identity_sources.hpp"

namespace keyless::identity::detail {

http::request cloud_shell_request(const mi_source_config& source, std::string_view resource) {
  http::request r;
  r.method = "POST";
  r.target = source.endpoint;
  r.headers.set("Metadata", "true");
  r.headers.set("Content-Type", "application/x-www-form-urlencoded");
  r.body = "resource=" + http::form_encode(resource);
  return r;
}

}  // namespace keyless::identity::detail
