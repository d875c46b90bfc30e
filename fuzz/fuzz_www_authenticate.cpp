// libFuzzer target for the WWW-Authenticate challenge parsing in
// lib/identity: Azure Arc's `Basic realm=<key file>` challenge. The key
// directory is a private temporary directory holding one valid key file; the
// input is the header value. Oracles: only keyless::error(authentication_failed)
// is thrown; a success names a .key file directly inside the directory (so the
// answer is that file's key), whatever `..`, quotes, NULs or long paths the
// challenge holds; messages never contain the key.
// (The CAE `insufficient_claims` parser lives privately in lib/openai's chat
// client and is not reachable from here.)

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "identity/managed_identity_sources.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/response.hpp"

namespace {

namespace fs = std::filesystem;

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view key = "fuzz-arc-key-0123456789abcdef";

const fs::path& key_directory() {
  static const fs::path dir = [] {
    std::string templ = (fs::temp_directory_path() / "keyless-fuzz-arc-XXXXXX").string();
    check(mkdtemp(templ.data()) != nullptr);
    fs::path d(templ);
    std::ofstream(d / "agent.key", std::ios::binary) << key;
    std::ofstream(d / "big.key", std::ios::binary) << std::string(5000, 'k');
    std::ofstream(d / "plain.txt", std::ios::binary) << key;
    fs::create_directory(d / "sub.key");
    fs::create_symlink(d / "agent.key", d / "link.key");
    std::atexit([] { fs::remove_all(key_directory()); });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  const fs::path& dir = key_directory();
  // A leading '@' stands for the key directory, so the fuzzer reaches the file checks.
  if (!input.empty() && input.find('@') != std::string::npos) {
    input.replace(input.find('@'), 1, dir.string());
  }
  keyless::http::response challenge;
  challenge.status = 401;
  try {
    challenge.headers.set("WWW-Authenticate", input);
  } catch (const keyless::error&) {
    return 0;  // not a valid header value: the HTTP parser would never produce it
  }
  try {
    const std::string authorization =
        keyless::identity::detail::azure_arc_authorization(challenge, dir);
    check(authorization == "Basic " + std::string(key));
  } catch (const keyless::error& e) {
    check(e.code() == keyless::errc::authentication_failed);
    // (A path the challenge itself spelled with the key's text may be echoed.)
    if (input.find(key) == std::string::npos) {
      check(std::string_view(e.what()).find(key) == std::string_view::npos);
    }
  }
  return 0;
}
