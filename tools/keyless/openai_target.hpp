#pragma once
// The Azure OpenAI endpoint and deployment the chat and doctor commands talk to.

#include <optional>
#include <string>

#include "command_line.hpp"

namespace keyless::cli {

struct openai_target {
  std::string endpoint;    ///< empty when neither --endpoint nor AZURE_OPENAI_ENDPOINT is set
  std::string deployment;  ///< empty when neither --deployment nor AZURE_OPENAI_DEPLOYMENT is set
};

/// --endpoint / --deployment, else AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_DEPLOYMENT.
openai_target read_openai_target(const parsed_arguments& args);

/// usage_error naming the flag and the variable when the endpoint or deployment is missing.
void require_complete(const openai_target& target);

}  // namespace keyless::cli
