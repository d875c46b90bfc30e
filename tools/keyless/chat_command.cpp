// keyless chat: one chat completion from Azure OpenAI, keyless (Entra ID through the default
// chain) unless an API key variable is named.

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <asio/io_context.hpp>

#include "command_line.hpp"
#include "commands.hpp"
#include "credential_choice.hpp"
#include "failure_text.hpp"
#include "keyless/core/error.hpp"
#include "keyless/openai/chat_client.hpp"
#include "openai_target.hpp"
#include "run_sync.hpp"

namespace keyless::cli {
namespace {

constexpr std::array<option_spec, 6> chat_options{{
    {"endpoint", "URL", "the resource endpoint (default: AZURE_OPENAI_ENDPOINT)"},
    {"deployment", "D", "the deployment name (default: AZURE_OPENAI_DEPLOYMENT)"},
    {"api-version", "V", "the api-version (default: OPENAI_API_VERSION, else 2024-10-21)"},
    {"api-key-env", "VAR", "authenticate with the API key in variable VAR instead of Entra ID"},
    {"stream", "", "print the reply as it is generated"},
    {"system", "TEXT", "a system message to send first"},
}};

constexpr std::string_view chat_description =
    "Sends PROMPT (the arguments joined by spaces; standard input when there are none and it\n"
    "is not a terminal) to an Azure OpenAI deployment and prints the reply. Authenticates with\n"
    "Microsoft Entra ID through the default credential chain unless --api-key-env names a\n"
    "variable holding an API key. Exit status 0 on success, 1 when the request fails (the\n"
    "reason and the likely fix on stderr), 2 for bad usage.";

std::string read_prompt(const parsed_arguments& args) {
  std::string prompt;
  for (const auto& word : args.positional()) {
    if (!prompt.empty()) prompt += ' ';
    prompt += word;
  }
  if (prompt.empty() && ::isatty(STDIN_FILENO) == 0) {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == '\r')) prompt.pop_back();
  }
  if (prompt.empty()) throw usage_error("no prompt: give it as arguments or on standard input");
  return prompt;
}

void write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

asio::awaitable<int> complete(openai::chat_client client, openai::chat_request request) {
  auto reply = co_await client.complete(std::move(request));
  std::string text;
  if (!reply.choices.empty()) {
    const auto& message = reply.choices.front().message;
    text = message.content.value_or(message.refusal.value_or(""));
  }
  write_out(text + "\n");
  co_return 0;
}

asio::awaitable<int> stream(openai::chat_client client, openai::chat_request request) {
  auto chunks = co_await client.stream(std::move(request));
  bool wrote = false;
  for (;;) {
    std::optional<openai::chat_chunk> chunk;
    try {
      chunk = co_await chunks.next();
    } catch (...) {
      // Keep what already arrived readable on its own line before the error on stderr.
      if (wrote) write_out("\n");
      throw;
    }
    if (!chunk) break;
    for (const auto& choice : chunk->choices) {
      if (choice.index != 0) continue;
      if (const auto& piece = choice.delta.content; piece && !piece->empty()) {
        write_out(*piece);
        wrote = true;
      }
    }
  }
  write_out("\n");
  co_return 0;
}

}  // namespace

int run_chat(std::span<const std::string> arguments) {
  const auto args = parse_arguments(arguments, chat_options);
  if (args.help()) {
    std::fputs(
        format_help("keyless chat [options] PROMPT...", chat_description, chat_options).c_str(),
        stdout);
    return 0;
  }
  const auto target = read_openai_target(args);
  require_complete(target);
  const auto prompt = read_prompt(args);

  std::optional<api_key> key;
  if (auto variable = args.value("api-key-env")) {
    const char* value = std::getenv(variable->c_str());
    if (value == nullptr || *value == '\0') {
      throw usage_error(
          fmt::format("--api-key-env {}: that variable is not set or is empty", *variable));
    }
    key = api_key{value};
  }

  openai::chat_request request;
  if (auto system = args.value("system")) request.messages.push_back({"system", *system});
  request.messages.push_back({"user", prompt});

  asio::io_context io;
  std::optional<openai::chat_client> client;
  try {
    openai::chat_client_options options;
    options.endpoint = target.endpoint;
    options.deployment = target.deployment;
    options.api_version = args.value_or("api-version", "");
    if (key) {
      options.auth = std::move(*key);
    } else {
      // The credential form lets the client derive the scope from the endpoint's host.
      options.auth = std::shared_ptr<identity::token_credential>(
          make_credential(io.get_executor(), credential_kind::chain, std::nullopt));
    }
    client.emplace(io.get_executor(), std::move(options));
  } catch (const keyless::error& e) {
    // An endpoint that is not a URL, http to a non-loopback host, ...: the user's input.
    if (e.code() == errc::invalid_argument) throw usage_error(e.message());
    print_failure("chat", std::current_exception());
    return 1;
  }
  try {
    return args.flag("stream") ? run_sync(io, stream(*client, std::move(request)))
                               : run_sync(io, complete(*client, std::move(request)));
  } catch (...) {
    print_failure("chat", std::current_exception());
    return 1;
  }
}

}  // namespace keyless::cli
