#pragma once
// The storage of one decoded header block, shared by request_fields and
// response_fields: names and values in one buffer, and views of them split
// into pseudo-header and regular fields. Header-only so that both use it
// without a source file of its own.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2/field_view.hpp"
#include "http/h2/hpack_decoder.hpp"

namespace keyless::http::h2 {

class field_block {
 public:
  field_block() = default;
  field_block(const field_block&) = delete;
  field_block& operator=(const field_block&) = delete;

  /// Replaces the stored fields by those of `block`; lets the decoder's
  /// exceptions through.
  void decode(decoder& hpack, std::string_view block) {
    bytes_.clear();
    stored_.clear();
    index();  // no view may outlive the bytes if decoding throws
    hpack.decode(block, [this](const decoded_field& f) {
      const auto at = static_cast<std::uint32_t>(bytes_.size());
      const auto name_size = static_cast<std::uint32_t>(f.name.size());
      stored_.push_back(
          {at, name_size, at + name_size, static_cast<std::uint32_t>(f.value.size())});
      bytes_.append(f.name);
      bytes_.append(f.value);
    });
    index();  // views only now: appending may have moved bytes_
  }

  /// Exchanges the contents (and the allocations) of two blocks.
  void swap(field_block& other) noexcept {
    bytes_.swap(other.bytes_);
    stored_.swap(other.stored_);
    index();  // a short string moves on swap
    other.index();
  }

  /// The fields without pseudo-headers, in order.
  std::span<const field_view> regular() const noexcept { return regular_; }
  /// The pseudo-header fields, in order.
  std::span<const field_view> pseudo() const noexcept { return pseudo_; }
  /// A pseudo-header field comes after a regular one (RFC 9113 8.3 forbids it).
  bool pseudo_after_regular() const noexcept { return pseudo_after_regular_; }

 private:
  struct stored_field {
    std::uint32_t name_at = 0;
    std::uint32_t name_size = 0;
    std::uint32_t value_at = 0;
    std::uint32_t value_size = 0;
  };

  // Rebuilds the views, whenever bytes_ may have moved.
  void index() {
    regular_.clear();
    pseudo_.clear();
    pseudo_after_regular_ = false;
    for (const stored_field& s : stored_) {
      const field_view f{{bytes_.data() + s.name_at, s.name_size},
                         {bytes_.data() + s.value_at, s.value_size}};
      if (f.name.starts_with(':')) {
        pseudo_after_regular_ = pseudo_after_regular_ || !regular_.empty();
        pseudo_.push_back(f);
      } else {
        regular_.push_back(f);
      }
    }
  }

  std::string bytes_;                 // names and values, one after another
  std::vector<stored_field> stored_;  // where each field sits in bytes_
  std::vector<field_view> regular_;
  std::vector<field_view> pseudo_;
  bool pseudo_after_regular_ = false;
};

}  // namespace keyless::http::h2
