#include "http/h2/request_encoder.hpp"

#include <array>
#include <charconv>

#include <fmt/core.h>

#include "http/h2/field_syntax.hpp"
#include "keyless/core/error.hpp"

namespace keyless::http::h2 {
namespace {

[[noreturn]] void bad_request(const std::string& what) {
  throw keyless::error(errc::invalid_argument, "HTTP/2 request: " + what);
}

// Visible ASCII only: what :authority and :path may hold once URL-encoded.
bool is_visible(std::string_view s) noexcept {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return !s.empty();
}

// RFC 9113 8.2.1. The value may be a secret: the message names the field only.
void check_value(std::string_view name, std::string_view value) {
  if (const char* problem = value_problem(value)) {
    bad_request(fmt::format("field \"{}\" {}", name, problem));
  }
}

bool method_implies_body(std::string_view method) noexcept {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// Whether a field the caller gave goes on the wire. `name` is lower case.
bool is_sent(std::string_view name, std::string_view value) noexcept {
  if (is_connection_specific(name) || name == "host") return false;
  return name != "te" || iequals(value, "trailers");
}

// Calls fn(name, value, checked_already) for each field the caller gave.
template <typename Fn>
void for_each_field(const request_head& head, Fn&& fn) {
  if (head.fields != nullptr) {
    for (const auto& [name, value] : *head.fields)
      fn(std::string_view(name), std::string_view(value), false);
  }
  for (const field_view& f : head.more_fields) fn(f.name, f.value, head.more_fields_checked);
}

}  // namespace

indexing indexing_for(std::string_view name) noexcept {
  if (name == "authorization") return indexing::incremental;
  if (name == "api-key" || name == "cookie" || name == "proxy-authorization") {
    return indexing::never;
  }
  if (name == "content-length" || name == "x-ms-client-request-id" || name == "traceparent") {
    return indexing::without;
  }
  return indexing::incremental;
}

std::string_view request_encoder::lower(std::string_view name) {
  lower_.assign(name);
  for (char& c : lower_) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower_;
}

request_encoder::checked request_encoder::check(const request_head& head, std::size_t body_size) {
  if (!is_token(head.method)) bad_request("the method is empty or not a token");
  if (head.method == "CONNECT") bad_request("CONNECT is not supported");
  if (!is_token(head.scheme)) bad_request("the scheme is empty or not a token");
  if (!is_visible(head.authority)) {
    bad_request("the authority is empty or has a space, control or non-ASCII character");
  }
  const bool asterisk = head.path == "*" && head.method == "OPTIONS";
  if (!is_visible(head.path) || (head.path.front() != '/' && !asterisk)) {
    bad_request("the path must start with '/' and hold no space, control or non-ASCII character");
  }
  checked result;
  result.list_size = entry_size(":method", head.method) + entry_size(":scheme", head.scheme) +
                     entry_size(":authority", head.authority) + entry_size(":path", head.path);
  for_each_field(head, [&](std::string_view name, std::string_view value, bool checked_already) {
    if (!checked_already) {
      if (name.starts_with(':')) {
        bad_request(fmt::format("the pseudo-header field \"{}\" is not a field to set", name));
      }
      if (!is_token(name)) bad_request("a field name is empty or not a token");
      check_value(name, value);
    }
    std::string_view lowered = lower(name);
    if (!is_sent(lowered, value)) return;
    if (lowered == "content-length") {
      std::size_t declared = 0;
      const char* end = value.data() + value.size();
      auto [stop, ec] = std::from_chars(value.data(), end, declared);
      if (ec != std::errc{} || stop != end || declared != body_size) {
        bad_request(
            fmt::format("content-length does not match the body size ({} bytes)", body_size));
      }
      result.has_content_length = true;
    }
    result.list_size += entry_size(name, value);
  });
  return result;
}

void request_encoder::encode(const request_head& head, std::size_t body_size,
                             std::uint32_t max_header_list_size, encoder& hpack,
                             std::string& block) {
  const checked c = check(head, body_size);
  std::array<char, 24> length_digits{};
  std::string_view length;
  if (!c.has_content_length && (body_size > 0 || method_implies_body(head.method))) {
    auto [end, ec] = std::to_chars(length_digits.begin(), length_digits.end(), body_size);
    length = std::string_view(length_digits.data(),
                              static_cast<std::size_t>(end - length_digits.data()));
  }
  const std::size_t list_size =
      c.list_size + (length.empty() ? 0 : entry_size("content-length", length));
  if (list_size > max_header_list_size) {
    throw keyless::error(errc::limit_exceeded,
                         fmt::format("HTTP/2 request: the header list of {} bytes is over the "
                                     "server's SETTINGS_MAX_HEADER_LIST_SIZE of {}",
                                     list_size, max_header_list_size));
  }
  hpack.begin_block(block);
  hpack.encode(block, ":method", head.method);
  hpack.encode(block, ":scheme", head.scheme);
  hpack.encode(block, ":authority", head.authority);
  hpack.encode(block, ":path", head.path);
  for_each_field(head, [&](std::string_view name, std::string_view value, bool) {
    std::string_view lowered = lower(name);
    if (is_sent(lowered, value)) hpack.encode(block, lowered, value, indexing_for(lowered));
  });
  if (!length.empty()) hpack.encode(block, "content-length", length, indexing::without);
}

}  // namespace keyless::http::h2
