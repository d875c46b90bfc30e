#include "test_pki.hpp"

#include <stdexcept>

#include <asio/ssl/context.hpp>

namespace keyless::testing {

rsa_certificate generate_rsa_certificate(std::string_view) {
  throw std::logic_error("not implemented yet");
}
std::string_view to_string(leaf_kind) noexcept {
  return "?";
}
test_pki test_pki::generate() {
  throw std::logic_error("not implemented yet");
}
const test_pki& test_pki::shared() {
  static const test_pki pki = generate();
  return pki;
}
const certified_key& test_pki::leaf(leaf_kind) const noexcept {
  return good_;
}
std::filesystem::path test_pki::write_ca_file(const std::filesystem::path&) const {
  throw std::logic_error("not implemented yet");
}
void test_pki::trust_ca(asio::ssl::context&) const {
  throw std::logic_error("not implemented yet");
}
void test_pki::use_leaf(asio::ssl::context&, leaf_kind) const {
  throw std::logic_error("not implemented yet");
}

}  // namespace keyless::testing
