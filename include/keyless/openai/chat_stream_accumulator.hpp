#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "keyless/openai/chat_types.hpp"

namespace keyless::openai {

/// Folds streamed chat_chunks into the chat_completion they add up to, so a
/// streaming caller ends with the same value complete() returns.
///
/// Per choice (matched by index, kept in index order): role, content and
/// refusal are concatenated (content stays nullopt when no chunk carried any,
/// as in a tool-call-only reply); tool-call fragments are matched by their
/// index, the first id and type are kept, name and arguments pieces are
/// concatenated; the last non-null finish_reason wins; content filter verdicts
/// are merged (filtered/detected if any chunk said so, the highest severity).
/// The envelope (id, model, created, system_fingerprint) comes from the first
/// chunk that has it (Azure's first chunk has none), prompt filter results and
/// usage are collected wherever they appear. Not thread-safe; movable.
class chat_stream_accumulator {
 public:
  /// Adds one chunk.
  void add(const chat_chunk& chunk);

  /// The completion accumulated so far; `object` is "chat.completion".
  const chat_completion& completion() const noexcept { return completion_; }

  /// Moves the accumulated completion out; the accumulator is then empty.
  chat_completion take() {
    chat_completion out = std::move(completion_);
    *this = chat_stream_accumulator();
    return out;
  }

  /// How many chunks were added.
  std::size_t chunk_count() const noexcept { return chunks_; }

 private:
  chat_choice& choice_at(std::int64_t index);
  tool_call& call_at(std::size_t choice_slot, std::int64_t index);

  chat_completion completion_;
  // Parallel to completion_.choices: the stream index of each tool call, since
  // tool_call itself has no index.
  std::vector<std::vector<std::int64_t>> call_indexes_;
  std::size_t chunks_ = 0;
};

}  // namespace keyless::openai
