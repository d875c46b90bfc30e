// A streamed answer from Azure OpenAI, printed piece by piece as the chunks arrive, keyless
// (Microsoft Entra ID tokens from DefaultAzureCredential).
//
//   export AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com
//   export AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini; ./chat_stream "Tell me a short story."
//
// If the stream breaks, what already arrived stays in chat_stream::accumulated(); this program
// prints how much that was along with the error.

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

asio::awaitable<void> tell(keyless::openai::chat_client& chat, std::string question) {
  keyless::openai::chat_request request{.messages = {{"user", std::move(question)}}};
  request.include_usage = true;
  keyless::openai::chat_stream stream = co_await chat.stream(std::move(request));
  try {
    while (auto chunk = co_await stream.next()) {
      // Azure's first chunk and the usage chunk have no choices: check before indexing.
      for (const auto& choice : chunk->choices) {
        if (choice.delta.content) {
          std::fputs(choice.delta.content->c_str(), stdout);
          std::fflush(stdout);  // show each piece now, not when the buffer fills
        }
      }
    }
  } catch (const keyless::error&) {
    std::fputs("\n", stdout);
    const auto& partial = stream.accumulated();
    std::fprintf(stderr, "(the stream broke; %zu characters had arrived)\n",
                 partial.choices.empty() ? std::size_t{0}
                                         : partial.choices[0].message.content.value_or("").size());
    throw;
  }
  std::fputs("\n", stdout);
  if (const auto& usage = stream.accumulated().usage) {
    std::fprintf(stderr, "[%lld prompt + %lld completion tokens, %zu chunks]\n",
                 static_cast<long long>(usage->prompt_tokens),
                 static_cast<long long>(usage->completion_tokens), stream.chunk_count());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string question = argc > 1 ? argv[1] : "Tell me a two-sentence story.";
  if (env("AZURE_OPENAI_DEPLOYMENT").empty()) {
    std::fprintf(stderr, "set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT first\n");
    return 2;
  }
  try {
    asio::io_context io;
    auto tokens =
        keyless::bearer_token_provider(keyless::default_azure_credential(io.get_executor()),
                                       "https://cognitiveservices.azure.com/.default");
    keyless::openai::chat_client chat(io.get_executor(),
                                      {
                                          .endpoint = env("AZURE_OPENAI_ENDPOINT"),
                                          .deployment = env("AZURE_OPENAI_DEPLOYMENT"),
                                          .auth = tokens,
                                      });
    std::exception_ptr failure;
    asio::co_spawn(io, tell(chat, question), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return 0;
  } catch (const keyless::error& e) {
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
