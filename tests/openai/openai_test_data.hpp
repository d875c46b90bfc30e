#pragma once
// Recorded Azure OpenAI bodies for the openai tests (tests/data/openai).

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "openai/sse_decoder.hpp"

namespace openai_test {

inline std::string read_data(const std::string& name) {
  std::ifstream in(std::string(KEYLESS_OPENAI_DATA_DIR) + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing test data file " + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The `data` of every event in an SSE body, decoded in one feed.
inline std::vector<std::string> event_data(const std::string& body) {
  keyless::openai::sse_decoder decoder;
  decoder.feed(body);
  std::vector<std::string> out;
  keyless::openai::sse_event e;
  while (decoder.next(e)) out.push_back(e.data);
  return out;
}

}  // namespace openai_test
