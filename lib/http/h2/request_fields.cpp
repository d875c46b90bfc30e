#include "http/h2/request_fields.hpp"

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
  block_.decode(hpack, block);
}

std::string request_fields::check_head(request_head_info& info) const {
  info = {};
  if (block_.pseudo_after_regular()) return "a pseudo-header field follows a regular field";
  for (const field_view& f : block_.pseudo()) {
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
  if (!block_.pseudo().empty()) {
    return fmt::format("the trailers have the pseudo-header field \"{}\"",
                       block_.pseudo().front().name);
  }
  request_head_info ignored;
  return check_regular(ignored);
}

// Also fills info.authority from host and info.content_length.
std::string request_fields::check_regular(request_head_info& info) const {
  const bool had_authority = !info.authority.empty();
  for (const field_view& f : block_.regular()) {
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
      switch (add_content_length(f.value, info.content_length)) {
        case content_length_check::ok:
          break;
        case content_length_check::not_a_number:
          return "the request's content-length is not a number";
        case content_length_check::disagrees:
          return "the request has content-length fields that disagree";
      }
    }
  }
  return {};
}

}  // namespace keyless::http::h2
