#include "http/h2/response_fields.hpp"

#include <charconv>

#include <fmt/core.h>

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
  bytes_.clear();
  stored_.clear();
  regular_.clear();
  pseudo_.clear();
  pseudo_after_regular_ = false;
  hpack.decode(block, [this](const decoded_field& f) {
    const auto at = static_cast<std::uint32_t>(bytes_.size());
    const auto name_size = static_cast<std::uint32_t>(f.name.size());
    stored_.push_back({at, name_size, at + name_size, static_cast<std::uint32_t>(f.value.size())});
    bytes_.append(f.name);
    bytes_.append(f.value);
  });
  // Views only now: appending may have moved bytes_.
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

std::span<const field_view> response_fields::regular() const noexcept {
  return regular_;
}

std::string response_fields::check_head(response_head_info& info) const {
  info = {};
  if (pseudo_after_regular_) return "a pseudo-header field follows a regular field";
  for (const field_view& f : pseudo_) {
    if (f.name != ":status") {
      return fmt::format(
          "the response has the pseudo-header field \"{}\" (only :status is allowed)", f.name);
    }
  }
  if (pseudo_.empty()) return "the response head has no :status";
  if (pseudo_.size() > 1) return "the response head has more than one :status";
  const std::string_view status = pseudo_.front().value;
  if (!is_three_digits(status) || status < "100" || status > "599") {
    return "the response's :status is not a three-digit code from 100 to 599";
  }
  if (status == "101") return "the response's :status is 101, which HTTP/2 does not allow";
  info.status = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
  for (const field_view& f : regular_) {
    if (f.name != "content-length") continue;
    std::uint64_t length = 0;
    const char* end = f.value.data() + f.value.size();
    auto [stop, ec] = std::from_chars(f.value.data(), end, length);
    if (ec != std::errc{} || stop != end || f.value.empty()) {
      return "the response's content-length is not a number";
    }
    if (info.content_length && *info.content_length != length) {
      return "the response has content-length fields that disagree";
    }
    info.content_length = length;
  }
  return check_regular();
}

std::string response_fields::check_trailers() const {
  if (!pseudo_.empty()) {
    return fmt::format("the trailers have the pseudo-header field \"{}\"", pseudo_.front().name);
  }
  return check_regular();
}

std::string response_fields::check_regular() const {
  for (const field_view& f : regular_) {
    if (is_connection_specific(f.name)) {
      return fmt::format("the response has the connection-specific field \"{}\"", f.name);
    }
  }
  return {};
}

}  // namespace keyless::http::h2
