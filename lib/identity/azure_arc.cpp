#include <fstream>
#include <system_error>

#include <fmt/core.h>

#include "identity/entra_token_request.hpp"
#include "identity/managed_identity_sources.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::identity::detail {
namespace {

[[noreturn]] void refuse(std::string_view what) {
  throw keyless::error(
      errc::authentication_failed,
      fmt::format("ManagedIdentityCredential: the Azure Arc agent's challenge {}", what),
      detail::with_hint("keyless reads only *.key files of at most 4096 bytes directly inside "
                        "the agent's token directory; check that the Azure Connected Machine "
                        "agent (himds) answers on IDENTITY_ENDPOINT and that this process may "
                        "read its key files (group himds)"));
}

// Shown paths are capped: the agent's realm is a short path, anything else is not worth
// echoing whole.
std::string shown(const std::filesystem::path& p) {
  std::string s = p.string();
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

}  // namespace

http::request azure_arc_request(const mi_source_config& source, std::string_view resource) {
  http::request r;
  r.method = "GET";
  r.target = source.endpoint;
  // 2020-06-01 is what MSAL, the Arc agent's maintained client, sends (the C++ SDK still
  // sends 2019-11-01); the agent accepts both.
  append_query(r.target, "api-version", "2020-06-01");
  append_query(r.target, "resource", resource);
  r.headers.set("Metadata", "true");
  return r;
}

std::string azure_arc_authorization(const http::response& challenge,
                                    const std::filesystem::path& key_directory) {
  auto header = challenge.headers.find("WWW-Authenticate");
  if (!header) refuse("has no WWW-Authenticate header");
  std::string_view value = *header;
  constexpr std::string_view prefix = "Basic realm=";
  if (value.size() <= prefix.size() || !http::iequals(value.substr(0, prefix.size()), prefix)) {
    refuse("is not of the form 'Basic realm=<key file>'");
  }
  std::string_view realm = value.substr(prefix.size());
  if (realm.size() >= 2 && realm.front() == '"' && realm.back() == '"') {
    realm = realm.substr(1, realm.size() - 2);
  }
  const std::filesystem::path key(realm);
  if (!key.is_absolute()) refuse(fmt::format("names a relative path '{}'", shown(key)));
  // Compare lexically normalised paths: "<dir>/../etc/x.key" must not pass as inside <dir>.
  const auto normal = key.lexically_normal();
  auto directory = key_directory.lexically_normal();
  if (!directory.has_filename()) directory = directory.parent_path();  // drop a trailing '/'
  if (normal.parent_path() != directory) {
    refuse(fmt::format("names '{}', which is not inside {}", shown(key), shown(key_directory)));
  }
  if (normal.extension() != ".key") {
    refuse(fmt::format("names '{}', which is not a .key file", shown(key)));
  }
  std::error_code ec;
  // symlink_status: a link inside the directory could point anywhere.
  auto status = std::filesystem::symlink_status(normal, ec);
  if (ec || !std::filesystem::exists(status)) {
    refuse(fmt::format("names '{}', which does not exist or cannot be seen", shown(key)));
  }
  if (!std::filesystem::is_regular_file(status)) {
    refuse(fmt::format("names '{}', which is not a regular file", shown(key)));
  }
  const auto size = std::filesystem::file_size(normal, ec);
  if (ec) refuse(fmt::format("names '{}', whose size cannot be read", shown(key)));
  if (size > max_arc_key_bytes) {
    refuse(fmt::format("names '{}', which is larger than {} bytes", shown(key), max_arc_key_bytes));
  }
  std::ifstream in(normal, std::ios::binary);
  if (!in) refuse(fmt::format("names '{}', which cannot be opened", shown(key)));
  std::string content(static_cast<std::size_t>(max_arc_key_bytes) + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) refuse(fmt::format("names '{}', which cannot be read", shown(key)));
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > max_arc_key_bytes) {  // grew between the size check and the read
    refuse(fmt::format("names '{}', which is larger than {} bytes", shown(key), max_arc_key_bytes));
  }
  // The agent writes the key without a line end; tolerate one added by hand.
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  if (content.empty()) refuse(fmt::format("names '{}', which is empty", shown(key)));
  return "Basic " + content;
}

}  // namespace keyless::identity::detail
