#include "http/h2/hpack_dynamic_table.hpp"

#include <utility>

namespace keyless::http::h2 {

header_field dynamic_table::operator[](std::size_t i) const noexcept {
  const slot& s = at(i);
  std::string_view text = s.text;
  return {text.substr(0, s.name_size), text.substr(s.name_size)};
}

void dynamic_table::set_max_size(std::size_t max_size) {
  max_size_ = max_size;
  while (size_ > max_size_) evict_oldest();
}

void dynamic_table::evict_oldest() noexcept {
  // The slot keeps its text (and capacity) until a new entry reuses it.
  const slot& oldest = at(count_ - 1);
  size_ -= oldest.text.size() + entry_overhead;
  --count_;
}

void dynamic_table::grow() {
  std::vector<slot> bigger(slots_.empty() ? 8 : slots_.size() * 2);
  for (std::size_t i = 0; i < count_; ++i) {
    bigger[i] = std::move(slots_[(newest_ + i) & (slots_.size() - 1)]);
  }
  slots_ = std::move(bigger);
  newest_ = 0;
}

bool dynamic_table::insert(std::string_view name, std::string_view value) {
  const std::size_t needed = entry_size(name, value);
  if (needed > max_size_) {
    count_ = 0;
    size_ = 0;
    return false;
  }
  // Copy first: the name may live in an entry that is about to be evicted,
  // or in the very slot the new entry takes.
  spare_.assign(name);
  spare_.append(value);
  while (size_ + needed > max_size_) evict_oldest();
  if (count_ == slots_.size()) grow();
  newest_ = (newest_ - 1) & (slots_.size() - 1);
  slot& s = slots_[newest_];
  s.text.swap(spare_);
  s.name_size = static_cast<std::uint32_t>(name.size());
  ++count_;
  size_ += needed;
  return true;
}

table_match dynamic_table::find(std::string_view name, std::string_view value) const noexcept {
  table_match match;
  const std::size_t text_size = name.size() + value.size();
  for (std::size_t i = 0; i < count_; ++i) {
    const slot& s = at(i);
    if (s.name_size != name.size()) continue;
    std::string_view text = s.text;
    if (text.substr(0, s.name_size) != name) continue;
    if (match.name == 0) match.name = static_table_size + 1 + i;
    if (text.size() == text_size && text.substr(s.name_size) == value) {
      match.full = static_table_size + 1 + i;
      break;
    }
  }
  return match;
}

}  // namespace keyless::http::h2
