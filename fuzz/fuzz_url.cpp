// libFuzzer target for URL parsing, percent-encoding and request
// serialisation. keyless::error is an expected outcome; any other exception
// escapes and is reported as a crash. Accepted URLs must round-trip and must
// serialise into a well-formed request head.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keyless/core/error.hpp"
#include "keyless/http/request.hpp"
#include "keyless/http/url.hpp"

namespace {

namespace http = keyless::http;

void check(bool ok) {
  if (!ok) std::abort();
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

void check_url(std::string_view text) {
  http::url u;
  try {
    u = http::url::parse(text);
  } catch (const keyless::error& e) {
    check(e.code() == keyless::errc::invalid_argument);
    return;
  }
  check(u.scheme == "http" || u.scheme == "https");
  check(!u.host.empty() && u.port != 0);
  check(!u.target.empty() && u.target.front() == '/');
  for (char c : u.target) {
    auto b = static_cast<unsigned char>(c);
    check(b > 0x20 && b < 0x7f && c != '#');
  }
  for (char c : u.host) check(!(c >= 'A' && c <= 'Z'));

  // What to_string() and origin() print parses back to the same URL.
  http::url again = http::url::parse(u.to_string());
  check(again.scheme == u.scheme && again.host == u.host && again.port == u.port &&
        again.target == u.target);
  http::url origin = http::url::parse(u.origin());
  check(origin.host == u.host && origin.port == u.port && origin.target == "/");
  if (u.target.find('?') == std::string::npos) {
    check(u.path() == u.target && u.query().empty());
  } else {
    check(u.path().size() + 1 + u.query().size() == u.target.size());
  }

  // A parsed URL always makes a valid head: exactly three line ends (request
  // line, Host, blank line) and no stray CR or LF.
  for (bool absolute : {false, true}) {
    http::request req;
    req.target = u;
    std::string head = http::serialize_head(req, absolute);
    check(count(head, "\r\n") == 3 && count(head, "\r") == 3 && count(head, "\n") == 3);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_url(text);

  check(http::percent_decode(http::percent_encode(text)) == text);
  check(http::percent_decode(http::form_encode(text), true) == text);
  for (bool plus : {false, true}) {
    try {
      std::string decoded = http::percent_decode(text, plus);
      check(decoded.size() <= text.size());
    } catch (const keyless::error& e) {
      check(e.code() == keyless::errc::invalid_argument);
    }
  }
  return 0;
}
