#include "clean_environment.hpp"

#include <string_view>

extern char** environ;

namespace keyless::bench_test {

std::vector<std::string> clean_environment(const std::vector<std::string>& extra) {
  static constexpr std::string_view dropped[] = {
      "AZURE_",      "IDENTITY_",  "MSI_",       "IMDS_",    "OPENAI_",  "SSL_CERT_", "HTTPS_PROXY",
      "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
  };
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view v(*e);
    bool keep = true;
    for (auto prefix : dropped) keep = keep && !v.starts_with(prefix);
    if (keep) env.emplace_back(v);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace keyless::bench_test
