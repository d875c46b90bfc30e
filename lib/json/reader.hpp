#pragma once
// Private reading helpers over simdjson On-Demand.
//
// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input. When
// the buffer's spare capacity already covers that, On-Demand parses in place;
// otherwise the caller (or simdjson) must copy. Everything here keeps the
// padding on buffers keyless owns, so bodies are parsed where they landed.
//
// Errors are keyless::error(errc::malformed_response) naming the context and
// the field. They never quote values: a field may hold a token.
// simdjson string_views must not escape a parse, so every string helper
// returns an owning std::string.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace keyless::json {

/// Makes sure `buffer` has SIMDJSON_PADDING spare bytes of capacity (growing
/// it once if not) and returns a view simdjson can parse without copying.
/// The view is valid until `buffer` is next modified.
simdjson::padded_string_view padded(std::string& buffer);

/// A byte buffer that always keeps SIMDJSON_PADDING spare capacity, for
/// readers that append a body piece by piece.
class padded_buffer {
 public:
  padded_buffer() = default;
  explicit padded_buffer(std::string_view initial) { append(initial); }

  void reserve(std::size_t size) { bytes_.reserve(size + simdjson::SIMDJSON_PADDING); }
  void append(std::string_view bytes) {
    if (bytes_.capacity() < bytes_.size() + bytes.size() + simdjson::SIMDJSON_PADDING) {
      bytes_.reserve(2 * (bytes_.size() + bytes.size()) + simdjson::SIMDJSON_PADDING);
    }
    bytes_.append(bytes);
  }
  void clear() noexcept { bytes_.clear(); }

  std::string_view view() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  simdjson::padded_string_view padded() const noexcept {
    return simdjson::padded_string_view(bytes_.data(), bytes_.size(), bytes_.capacity());
  }
  /// Gives the bytes away (the padding stays in the string's capacity).
  std::string release() noexcept { return std::move(bytes_); }

 private:
  std::string bytes_;
};

/// Throws keyless::error(errc::malformed_response, "<context>: <what>").
[[noreturn]] void throw_malformed(std::string_view context, std::string_view what);

/// Starts parsing `json`; throws malformed_response if it is not JSON.
simdjson::ondemand::document parse(simdjson::ondemand::parser& parser,
                                   simdjson::padded_string_view json, std::string_view context);

/// The document's top-level object; throws malformed_response otherwise.
simdjson::ondemand::object root_object(simdjson::ondemand::document& document,
                                       std::string_view context);

/// Throws malformed_response unless the document has been read to its end
/// (On-Demand does not notice trailing garbage by itself). Call it after
/// iterating the whole root value; a lookup with find_field leaves the
/// document mid-way.
void expect_end(simdjson::ondemand::document& document, std::string_view context);

/// The value of a string field; throws malformed_response naming `field`
/// when it is not a string.
std::string read_string(simdjson::ondemand::value value, std::string_view context,
                        std::string_view field);

/// A signed 64-bit integer field; throws when it is not a JSON integer
/// (so 1.5, 1e3 and "15" are refused).
std::int64_t read_int(simdjson::ondemand::value value, std::string_view context,
                      std::string_view field);

/// Looks `field` up in `object` (in any order). Absent or null → nullopt;
/// any other non-string type → malformed_response naming the field.
std::optional<std::string> optional_string(simdjson::ondemand::object& object,
                                           std::string_view field, std::string_view context);

/// Like optional_string, for integer fields.
std::optional<std::int64_t> optional_int(simdjson::ondemand::object& object, std::string_view field,
                                         std::string_view context);

/// Like optional_string, but absence is an error too.
std::string required_string(simdjson::ondemand::object& object, std::string_view field,
                            std::string_view context);

/// A short, value-free description of a JSON type for messages ("a number").
std::string_view describe(simdjson::ondemand::json_type type) noexcept;

}  // namespace keyless::json
