// One question to Azure OpenAI, printed with its answer. chat_keyless.cpp and chat_api_key.cpp
// are the same program and differ in exactly one line, the `.auth` one: an API key from
// AZURE_OPENAI_API_KEY, or Microsoft Entra ID tokens from DefaultAzureCredential (environment
// service principal, workload identity, managed identity, `az login`, `azd auth login`).
//
//   export AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com
//   export AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini; ./chat_keyless "Why is the sky blue?"
//
// For keyless use the identity needs the "Cognitive Services OpenAI User" role on the resource.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "keyless/core/error.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "keyless/openai/chat_client.hpp"

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

asio::awaitable<void> ask(keyless::openai::chat_client& chat, std::string question) {
  // Built before the co_await: g++ 12 cannot compile a braced message list inside it.
  keyless::openai::chat_request request{.messages = {{"user", std::move(question)}}};
  keyless::openai::chat_completion reply = co_await chat.complete(std::move(request));
  for (const auto& choice : reply.choices) {
    std::printf("%s\n", choice.message.content.value_or("(no content)").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string question = argc > 1 ? argv[1] : "Say hello in one short sentence.";
  if (env("AZURE_OPENAI_DEPLOYMENT").empty()) {
    std::fprintf(stderr, "set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT first\n");
    return 2;
  }
  try {
    asio::io_context io;
    // clang-format off
    keyless::openai::chat_client chat(io.get_executor(), {
        .endpoint = env("AZURE_OPENAI_ENDPOINT"),
        .deployment = env("AZURE_OPENAI_DEPLOYMENT"),
        .auth = keyless::bearer_token_provider(keyless::default_azure_credential(io.get_executor()), "https://cognitiveservices.azure.com/.default"),
    });
    // clang-format on
    std::exception_ptr failure;
    asio::co_spawn(io, ask(chat, question), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return 0;
  } catch (const keyless::error& e) {
    // The message holds the service's words and, when there is one, the hint.
    std::fprintf(stderr, "error: %s\n", e.message().c_str());
    const auto& hint = e.details().hint;
    if (!hint.empty() && e.message().find(hint) == std::string::npos) {
      std::fprintf(stderr, "hint: %s\n", hint.c_str());
    }
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
