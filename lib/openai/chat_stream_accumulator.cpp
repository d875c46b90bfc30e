#include "keyless/openai/chat_stream_accumulator.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace keyless::openai {
namespace {

int severity_rank(std::string_view s) {
  if (s == "safe") return 0;
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  return -1;
}

// A stream reports a verdict per stretch of text; the whole reply is as
// filtered, as detected and as severe as its worst stretch.
void merge(filter_results& into, const filter_results& from) {
  for (const auto& c : from.categories) {
    auto it = std::find_if(into.categories.begin(), into.categories.end(),
                           [&](const filter_category& x) { return x.name == c.name; });
    if (it == into.categories.end()) {
      into.categories.push_back(c);
      continue;
    }
    it->filtered = it->filtered || c.filtered;
    if (c.detected) it->detected = it->detected.value_or(false) || *c.detected;
    if (!c.severity.empty() &&
        (it->severity.empty() || severity_rank(c.severity) > severity_rank(it->severity)))
      it->severity = c.severity;
  }
  if (!from.error_code.empty()) {
    into.error_code = from.error_code;
    into.error_message = from.error_message;
  }
}

}  // namespace

chat_choice& chat_stream_accumulator::choice_at(std::int64_t index) {
  auto& choices = completion_.choices;
  auto it = std::lower_bound(choices.begin(), choices.end(), index,
                             [](const chat_choice& c, std::int64_t i) { return c.index < i; });
  if (it != choices.end() && it->index == index) return *it;
  const auto slot = static_cast<std::size_t>(std::distance(choices.begin(), it));
  chat_choice fresh;
  fresh.index = index;
  fresh.message.role = "assistant";
  call_indexes_.insert(call_indexes_.begin() + static_cast<std::ptrdiff_t>(slot),
                       std::vector<std::int64_t>{});
  return *choices.insert(it, std::move(fresh));
}

tool_call& chat_stream_accumulator::call_at(std::size_t slot, std::int64_t index) {
  auto& indexes = call_indexes_[slot];
  auto& calls = completion_.choices[slot].message.tool_calls;
  auto it = std::lower_bound(indexes.begin(), indexes.end(), index);
  const auto pos = std::distance(indexes.begin(), it);
  if (it != indexes.end() && *it == index) return calls[static_cast<std::size_t>(pos)];
  indexes.insert(it, index);
  return *calls.insert(calls.begin() + pos, tool_call{});
}

void chat_stream_accumulator::add(const chat_chunk& chunk) {
  ++chunks_;
  auto& c = completion_;
  c.object = "chat.completion";
  if (c.id.empty()) c.id = chunk.id;
  if (c.model.empty()) c.model = chunk.model;
  if (c.created == 0) c.created = chunk.created;
  if (c.system_fingerprint.empty()) c.system_fingerprint = chunk.system_fingerprint;
  if (chunk.usage) c.usage = chunk.usage;
  c.prompt_filter_results.insert(c.prompt_filter_results.end(), chunk.prompt_filter_results.begin(),
                                 chunk.prompt_filter_results.end());

  for (const auto& part : chunk.choices) {
    auto& choice = choice_at(part.index);
    const auto slot = static_cast<std::size_t>(&choice - c.choices.data());
    auto& m = choice.message;
    const auto& d = part.delta;
    if (d.role && !d.role->empty()) m.role = *d.role;
    if (d.content) {
      if (!m.content) m.content.emplace();
      *m.content += *d.content;
    }
    if (d.refusal) {
      if (!m.refusal) m.refusal.emplace();
      *m.refusal += *d.refusal;
    }
    for (const auto& fragment : d.tool_calls) {
      auto& call = call_at(slot, fragment.index);
      if (call.id.empty()) call.id = fragment.id;
      if (!fragment.type.empty()) call.type = fragment.type;
      call.function.name += fragment.name;
      call.function.arguments += fragment.arguments;
    }
    if (!part.finish_reason.empty()) choice.finish_reason = part.finish_reason;
    merge(choice.content_filter_results, part.content_filter_results);
  }
}

}  // namespace keyless::openai
