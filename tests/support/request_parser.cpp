#include "request_parser.hpp"

#include <stdexcept>

namespace keyless::testing {

void header_map::add(std::string, std::string) {
  throw std::logic_error("not implemented yet");
}
void header_map::set(std::string, std::string) {
  throw std::logic_error("not implemented yet");
}
void header_map::erase(std::string_view) {
  throw std::logic_error("not implemented yet");
}
std::optional<std::string_view> header_map::find(std::string_view) const noexcept {
  return {};
}
std::vector<std::string_view> header_map::find_all(std::string_view) const {
  return {};
}
bool iequals(std::string_view, std::string_view) noexcept {
  return false;
}
std::string percent_decode(std::string_view text, bool) {
  return std::string(text);
}
std::optional<std::string> find_url_encoded(std::string_view, std::string_view) {
  return {};
}
std::string_view recorded_request::path() const noexcept {
  return target;
}
std::string_view recorded_request::query() const noexcept {
  return {};
}
std::optional<std::string> recorded_request::query_param(std::string_view) const {
  return {};
}
std::optional<std::string> recorded_request::form_param(std::string_view) const {
  return {};
}
std::string recorded_request::header(std::string_view) const {
  return {};
}
bool recorded_request::keep_alive() const noexcept {
  return true;
}
std::size_t request_parser::feed(std::string_view) {
  throw std::logic_error("not implemented yet");
}
recorded_request request_parser::take() {
  throw std::logic_error("not implemented yet");
}
bool request_parser::parse_head(std::string_view) {
  return false;
}
void request_parser::fail(std::string message) {
  error_ = std::move(message);
}

}  // namespace keyless::testing
