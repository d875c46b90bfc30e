#include "http/h2/response_fields.hpp"

#include <fmt/core.h>

#include "http/h2/field_syntax.hpp"

namespace keyless::http::h2 {
namespace {

bool is_three_digits(std::string_view s) noexcept {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

void response_fields::decode(decoder& hpack, std::string_view block) {
  block_.decode(hpack, block);
}

std::string response_fields::check_head(response_head_info& info) const {
  info = {};
  if (block_.pseudo_after_regular()) return "a pseudo-header field follows a regular field";
  for (const field_view& f : block_.pseudo()) {
    if (f.name != ":status") {
      return fmt::format(
          "the response has the pseudo-header field \"{}\" (only :status is allowed)", f.name);
    }
  }
  if (block_.pseudo().empty()) return "the response head has no :status";
  if (block_.pseudo().size() > 1) return "the response head has more than one :status";
  const std::string_view status = block_.pseudo().front().value;
  if (!is_three_digits(status) || status < "100" || status > "599") {
    return "the response's :status is not a three-digit code from 100 to 599";
  }
  if (status == "101") return "the response's :status is 101, which HTTP/2 does not allow";
  info.status = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
  for (const field_view& f : block_.regular()) {
    if (f.name != "content-length") continue;
    switch (add_content_length(f.value, info.content_length)) {
      case content_length_check::ok:
        break;
      case content_length_check::not_a_number:
        return "the response's content-length is not a number";
      case content_length_check::disagrees:
        return "the response has content-length fields that disagree";
    }
  }
  return check_regular();
}

std::string response_fields::check_trailers() const {
  if (!block_.pseudo().empty()) {
    return fmt::format("the trailers have the pseudo-header field \"{}\"",
                       block_.pseudo().front().name);
  }
  return check_regular();
}

std::string response_fields::check_regular() const {
  for (const field_view& f : block_.regular()) {
    if (is_connection_specific(f.name)) {
      return fmt::format("the response has the connection-specific field \"{}\"", f.name);
    }
  }
  return {};
}

}  // namespace keyless::http::h2
