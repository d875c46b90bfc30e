// libFuzzer target for the Server-Sent Events decoder. The input is fed whole,
// then again split at a position taken from its first bytes and once byte by
// byte: every way must yield the same events (or the same limit error), and
// every event must obey the field rules.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "keyless/core/error.hpp"
#include "openai/sse_decoder.hpp"

namespace {

namespace ko = keyless::openai;

void check(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  std::vector<std::string> events;  // type + '\0' + data + '\0' + id
  bool limited = false;
  bool partial = false;
  bool operator==(const outcome&) const = default;
};

// A small limit so long lines in the corpus reach the limit path.
constexpr std::size_t limit = 256;

outcome decode(std::string_view input, const std::vector<std::size_t>& cuts) {
  outcome out;
  ko::sse_decoder d(limit);
  ko::sse_event e;
  try {
    std::size_t from = 0;
    auto feed = [&](std::string_view piece) {
      d.feed(piece);
      while (d.next(e)) {
        check(!e.type.empty());
        check(e.data.size() <= limit);
        check(e.id.find('\0') == std::string::npos);
        check(e.type.find_first_of("\r\n") == std::string::npos);
        check(e.data.find('\r') == std::string::npos);
        out.events.push_back(e.type + '\0' + e.data + '\0' + e.id);
      }
    };
    for (auto cut : cuts) {
      feed(input.substr(from, cut - from));
      from = cut;
    }
    feed(input.substr(from));
    out.partial = d.has_partial_event();
  } catch (const keyless::error& err) {
    check(err.code() == keyless::errc::limit_exceeded);
    out.limited = true;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto whole = decode(input, {});
  if (size > 0) {
    std::size_t cut = (static_cast<std::size_t>(data[0]) * 131 + size) % (size + 1);
    check(decode(input, {cut}) == whole);
  }
  if (size <= 4096) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < size; ++i) every.push_back(i);
    check(decode(input, every) == whole);
  }
  return 0;
}
