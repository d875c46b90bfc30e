#include "openai_target.hpp"

#include <cstdlib>

namespace keyless::cli {
namespace {

std::string flag_or_variable(const parsed_arguments& args, std::string_view flag,
                             const char* variable) {
  if (auto v = args.value(flag)) return *v;
  const char* env = std::getenv(variable);
  return env ? std::string(env) : std::string();
}

}  // namespace

openai_target read_openai_target(const parsed_arguments& args) {
  return {flag_or_variable(args, "endpoint", "AZURE_OPENAI_ENDPOINT"),
          flag_or_variable(args, "deployment", "AZURE_OPENAI_DEPLOYMENT")};
}

void require_complete(const openai_target& target) {
  if (target.endpoint.empty()) {
    throw usage_error(
        "no endpoint: pass --endpoint https://<resource>.openai.azure.com or set "
        "AZURE_OPENAI_ENDPOINT");
  }
  if (target.deployment.empty()) {
    throw usage_error(
        "no deployment: pass --deployment <name> or set AZURE_OPENAI_DEPLOYMENT (the name given "
        "to the deployment, not the model's name)");
  }
}

}  // namespace keyless::cli
