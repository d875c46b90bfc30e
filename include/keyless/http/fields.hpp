#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyless::http {

/// HTTP header fields in arrival order; names compare case-insensitively.
class fields {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  /// Appends a field (repeated names are kept).
  void add(std::string name, std::string value);
  /// Replaces every field named `name` by one.
  void set(std::string name, std::string value);
  /// Removes every field named `name`.
  void erase(std::string_view name);
  /// The first value named `name`.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept { return find(name).has_value(); }
  void clear() noexcept { items_.clear(); }
  /// Room for `n` fields without growing.
  void reserve(std::size_t n) { items_.reserve(n); }

  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }

 private:
  std::vector<value_type> items_;
};

/// ASCII case-insensitive equality, for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace keyless::http
