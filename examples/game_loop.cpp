// Azure OpenAI from a game loop: no coroutines and no extra threads in user code. Requests are
// started with callbacks (any Asio completion token works), and the loop calls
// io_context::poll() once per frame, which runs whatever I/O is ready and returns at once.
// An NPC's line streams in chunk by chunk while the frames go on; a second request for a
// quest title completes in the background.
//
//   export AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com
//   export AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini; ./game_loop

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include <asio/io_context.hpp>

#include "keyless/core/error.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "keyless/openai/chat_client.hpp"

namespace {

using keyless::openai::chat_chunk;
using keyless::openai::chat_completion;
using keyless::openai::chat_request;
using keyless::openai::chat_stream;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// What the game knows about its two requests; touched only from the loop's thread (the
// callbacks run inside io.poll()).
struct game_state {
  long frame = 0;
  std::optional<chat_stream> npc_stream;  // kept alive while chunks are read
  std::string npc_line;
  bool npc_done = false;
  std::optional<std::string> quest_title;
  bool quest_done = false;
  int failures = 0;
};

void report(const char* what, std::exception_ptr e, game_state& game) {
  auto failure = keyless::inspect(e);
  std::fprintf(stderr, "[frame %ld] %s failed: %s\n", game.frame, what, failure.message.c_str());
  if (!failure.details.hint.empty())
    std::fprintf(stderr, "  hint: %s\n", failure.details.hint.c_str());
  ++game.failures;
}

// Asks for the next chunk; the handler prints it and asks again until the end.
void read_next_chunk(game_state& game) {
  game.npc_stream->async_next([&game](std::exception_ptr e, std::optional<chat_chunk> chunk) {
    if (e) {
      report("NPC line", e, game);
      game.npc_done = true;
      return;
    }
    if (!chunk) {  // [DONE]
      game.npc_done = true;
      std::printf("[frame %ld] NPC finished: \"%s\"\n", game.frame, game.npc_line.c_str());
      return;
    }
    for (const auto& choice : chunk->choices) {
      if (choice.delta.content && !choice.delta.content->empty()) {
        game.npc_line += *choice.delta.content;
        std::printf("[frame %ld] NPC says: %s\n", game.frame, choice.delta.content->c_str());
      }
    }
    read_next_chunk(game);
  });
}

}  // namespace

int main() {
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
    game_state game;

    chat_request npc{.messages = {{"system", "You are a blacksmith in a fantasy village."},
                                  {"user", "Greet the traveller in one sentence."}}};
    chat.async_stream(std::move(npc), [&game](std::exception_ptr e, chat_stream stream) {
      if (e) {
        report("NPC line", e, game);
        game.npc_done = true;
        return;
      }
      game.npc_stream.emplace(std::move(stream));
      read_next_chunk(game);
    });

    chat_request quest{.messages = {{"user", "Name a fantasy quest in at most five words."}}};
    chat.async_complete(std::move(quest), [&game](std::exception_ptr e, chat_completion reply) {
      game.quest_done = true;
      if (e) return report("quest title", e, game);
      if (!reply.choices.empty()) game.quest_title = reply.choices[0].message.content.value_or("");
      std::printf("[frame %ld] quest: %s\n", game.frame, game.quest_title.value_or("").c_str());
    });

    // The game loop: ~60 frames per second, for at most two minutes.
    constexpr auto frame_time = std::chrono::microseconds(16'667);
    constexpr long max_frames = 60L * 120;
    while (!(game.npc_done && game.quest_done) && game.frame < max_frames) {
      const auto frame_start = std::chrono::steady_clock::now();
      io.poll();  // run the network work that is ready; never blocks
      // ... update the world, draw ...
      ++game.frame;
      std::this_thread::sleep_until(frame_start + frame_time);
    }
    if (!(game.npc_done && game.quest_done)) {
      std::fprintf(stderr, "gave up after %ld frames\n", game.frame);
      return 1;
    }
    std::printf("%ld frames rendered while waiting for the model\n", game.frame);
    return game.failures == 0 ? 0 : 1;
  } catch (const keyless::error& e) {
    std::fprintf(stderr, "error: %s\n", e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
