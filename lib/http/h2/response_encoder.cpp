#include "http/h2/response_encoder.hpp"

#include <array>
#include <charconv>

#include <fmt/core.h>

#include "http/h2/field_syntax.hpp"
#include "http/h2/request_encoder.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::http::h2 {
namespace {

[[noreturn]] void bad_response(const std::string& what) {
  throw keyless::error(errc::invalid_argument, "HTTP/2 response: " + what);
}

bool is_connection_specific_any_case(std::string_view name) noexcept {
  for (std::string_view n :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    if (http::iequals(name, n)) return true;
  }
  return false;
}

}  // namespace

void response_encoder::check(std::span<const field_view> fields) {
  for (const field_view& f : fields) {
    if (f.name.starts_with(':')) {
      bad_response(fmt::format("the pseudo-header field \"{}\" is not a field to set", f.name));
    }
    if (!is_token(f.name)) bad_response("a field name is empty or not a token");
    if (const char* problem = value_problem(f.value)) {
      bad_response(fmt::format("field \"{}\" {}", f.name, problem));
    }
  }
}

void response_encoder::encode_head(int status, std::span<const field_view> fields, encoder& hpack,
                                   std::string& block) {
  if (status < 100 || status > 599 || status == 101) {
    bad_response(fmt::format("status {} is not in [100, 599] or is 101", status));
  }
  check(fields);
  std::array<char, 4> digits{};
  std::to_chars(digits.data(), digits.data() + digits.size(), status);
  hpack.begin_block(block);
  hpack.encode(block, ":status", std::string_view(digits.data(), 3));
  encode_fields(fields, hpack, block);
}

void response_encoder::encode_trailers(std::span<const field_view> fields, encoder& hpack,
                                       std::string& block) {
  check(fields);
  hpack.begin_block(block);
  encode_fields(fields, hpack, block);
}

void response_encoder::encode_fields(std::span<const field_view> fields, encoder& hpack,
                                     std::string& block) {
  for (const field_view& f : fields) {
    if (is_connection_specific_any_case(f.name)) continue;
    const std::string_view name = lower(f.name);
    hpack.encode(block, name, f.value, indexing_for(name));
  }
}

std::string_view response_encoder::lower(std::string_view name) {
  lower_.assign(name);
  for (char& c : lower_) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower_;
}

}  // namespace keyless::http::h2
