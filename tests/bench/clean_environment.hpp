#pragma once
// The environment `keyless bench` children start from in the bench suite.

#include <string>
#include <vector>

namespace keyless::bench_test {

/// This process's environment without the variables that would change what a credential
/// or a client does (AZURE_*, IDENTITY_*, MSI_*, IMDS_*, OPENAI_*, SSL_CERT_*, proxies),
/// plus `extra`.
std::vector<std::string> clean_environment(const std::vector<std::string>& extra);

}  // namespace keyless::bench_test
