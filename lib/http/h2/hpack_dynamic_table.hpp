#pragma once
// The HPACK dynamic table (RFC 7541 2.3.2 and 4): the fields a connection
// has indexed so far, newest first, bounded by a size in bytes. Encoder and
// decoder each keep one and change it in the same order, so they agree.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2/hpack_static_table.hpp"

namespace keyless::http::h2 {

/// What an entry costs in the table: RFC 7541 4.1 adds 32 bytes to the name
/// and value for the bookkeeping a real implementation needs.
inline constexpr std::size_t entry_overhead = 32;

constexpr std::size_t entry_size(std::string_view name, std::string_view value) noexcept {
  return name.size() + value.size() + entry_overhead;
}

/// Entries sit in a ring of slots that keep their string capacity, so once
/// the ring has warmed up, inserting usually does not allocate.
/// Thread-safety: one operation at a time.
class dynamic_table {
 public:
  explicit dynamic_table(std::size_t max_size) : max_size_(max_size) {}

  /// Entry `i`, 0 being the newest (HPACK index static_table_size + 1 + i).
  /// Requires i < count(). The views stay valid until the next insert.
  header_field operator[](std::size_t i) const noexcept;

  std::size_t count() const noexcept { return count_; }
  /// Sum of entry_size() over the entries; never more than max_size().
  std::size_t size() const noexcept { return size_; }
  std::size_t max_size() const noexcept { return max_size_; }

  /// Changes the limit, evicting the oldest entries until the rest fit.
  void set_max_size(std::size_t max_size);

  /// Adds a field as the newest entry after evicting the oldest ones until
  /// it fits. A field larger than max_size() empties the table and is not
  /// added (RFC 7541 4.4); that returns false. `name` and `value` may point
  /// into this table, even into an entry that gets evicted.
  bool insert(std::string_view name, std::string_view value);

  /// The newest entries matching `name` and `value`, and `name` alone, as
  /// HPACK indexes (0: none). Compares lengths before bytes.
  table_match find(std::string_view name, std::string_view value) const noexcept;

 private:
  struct slot {
    std::string text;  // name then value
    std::uint32_t name_size = 0;
  };

  const slot& at(std::size_t i) const noexcept {
    return slots_[(newest_ + i) & (slots_.size() - 1)];
  }
  void evict_oldest() noexcept;
  void grow();

  std::vector<slot> slots_;  // a ring; its size is 0 or a power of two
  std::size_t newest_ = 0;   // slot of entry 0
  std::size_t count_ = 0;
  std::size_t size_ = 0;
  std::size_t max_size_;
  std::string spare_;  // a new entry is built here, then swapped into its slot
};

}  // namespace keyless::http::h2
