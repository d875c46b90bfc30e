#include "http/h2/request_fields.hpp"

#include <charconv>
#include <utility>

#include <fmt/core.h>

#include "http/h2/field_syntax.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::http::h2 {
namespace {

// The four request pseudo-headers (RFC 9113 8.3.1); nullptr for any other name.
std::string_view* slot_for(std::string_view name, request_head_info& info) noexcept {
  if (name == ":method") return &info.method;
  if (name == ":scheme") return &info.scheme;
  if (name == ":authority") return &info.authority;
  if (name == ":path") return &info.path;
  return nullptr;
}

}  // namespace

void request_fields::decode(decoder& hpack, std::string_view block) {
  bytes_.clear();
  stored_.clear();
  hpack.decode(block, [this](const decoded_field& f) {
    const auto at = static_cast<std::uint32_t>(bytes_.size());
    const auto name_size = static_cast<std::uint32_t>(f.name.size());
    stored_.push_back({at, name_size, at + name_size, static_cast<std::uint32_t>(f.value.size())});
    bytes_.append(f.name);
    bytes_.append(f.value);
  });
  index();
}

void request_fields::swap(request_fields& other) noexcept {
  bytes_.swap(other.bytes_);
  stored_.swap(other.stored_);
  index();
  other.index();
}

void request_fields::index() {
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

std::string request_fields::check_head(request_head_info& info) const {
  info = {};
  if (pseudo_after_regular_) return "a pseudo-header field follows a regular field";
  for (const field_view& f : pseudo_) {
    std::string_view* slot = slot_for(f.name, info);
    if (slot == nullptr) {
      return fmt::format("the request has the pseudo-header field \"{}\"", f.name);
    }
    if (!slot->empty() || f.value.empty()) {
      return fmt::format("the request has {} {} field",
                         slot->empty() ? "an empty" : "more than one", f.name);
    }
    *slot = f.value;
  }
  if (info.method.empty()) return "the request has no :method";
  if (!is_token(info.method)) return "the request's :method is not a token";
  if (info.method == "CONNECT") {
    if (info.authority.empty()) return "the CONNECT request has no :authority";
    if (!info.scheme.empty() || !info.path.empty()) {
      return "the CONNECT request has a :scheme or a :path";
    }
  } else {
    if (info.scheme.empty()) return "the request has no :scheme";
    if (info.path.empty()) return "the request has no :path";
    const bool web = info.scheme == "http" || info.scheme == "https";
    if (web && info.path.front() != '/' && !(info.path == "*" && info.method == "OPTIONS")) {
      return "the request's :path is neither absolute (\"/...\") nor \"*\" for OPTIONS";
    }
  }
  return check_regular(info);
}

std::string request_fields::check_trailers() const {
  if (!pseudo_.empty()) {
    return fmt::format("the trailers have the pseudo-header field \"{}\"", pseudo_.front().name);
  }
  request_head_info ignored;
  return check_regular(ignored);
}

// Also fills info.authority from host and info.content_length.
std::string request_fields::check_regular(request_head_info& info) const {
  const bool had_authority = !info.authority.empty();
  for (const field_view& f : regular_) {
    if (is_connection_specific(f.name)) {
      return fmt::format("the request has the connection-specific field \"{}\"", f.name);
    }
    if (f.name == "te" && !http::iequals(f.value, "trailers")) {
      return "the request has a te field other than \"trailers\"";
    }
    if (f.name == "host") {
      // RFC 9113 8.3.1: both name the same origin, or the request is malformed.
      if (had_authority && !http::iequals(f.value, info.authority)) {
        return "the request's host field differs from its :authority";
      }
      if (info.authority.empty()) info.authority = f.value;
    }
    if (f.name == "content-length") {
      std::uint64_t length = 0;
      const char* end = f.value.data() + f.value.size();
      auto [stop, ec] = std::from_chars(f.value.data(), end, length);
      if (ec != std::errc{} || stop != end || f.value.empty()) {
        return "the request's content-length is not a number";
      }
      if (info.content_length && *info.content_length != length) {
        return "the request has content-length fields that disagree";
      }
      info.content_length = length;
    }
  }
  return {};
}

}  // namespace keyless::http::h2
