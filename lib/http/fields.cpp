#include "keyless/http/fields.hpp"

#include <algorithm>

namespace keyless::http {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    // Folding with |0x20 is only right for letters; check that it is one.
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
  }
  return true;
}

void fields::add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void fields::set(std::string name, std::string value) {
  // The first occurrence keeps its position so a serialised head stays in
  // the order the caller built it.
  auto first = std::find_if(items_.begin(), items_.end(),
                            [&](const value_type& f) { return iequals(f.first, name); });
  if (first == items_.end()) {
    items_.emplace_back(std::move(name), std::move(value));
    return;
  }
  first->first = std::move(name);
  first->second = std::move(value);
  auto rest_begin = std::next(first);
  items_.erase(std::remove_if(rest_begin, items_.end(),
                              [&](const value_type& f) { return iequals(f.first, first->first); }),
               items_.end());
}

void fields::erase(std::string_view name) {
  items_.erase(std::remove_if(items_.begin(), items_.end(),
                              [&](const value_type& f) { return iequals(f.first, name); }),
               items_.end());
}

std::optional<std::string_view> fields::find(std::string_view name) const noexcept {
  for (const auto& f : items_) {
    if (iequals(f.first, name)) return std::string_view(f.second);
  }
  return std::nullopt;
}

}  // namespace keyless::http
