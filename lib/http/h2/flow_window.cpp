#include "http/h2/flow_window.hpp"

#include <fmt/core.h>

namespace keyless::http::h2 {

send_window::send_window(std::uint32_t initial) : available_(initial) {
  if (initial > max_window_size) {
    throw_invalid_argument(fmt::format("initial send window {} is over 2^31-1", initial));
  }
}

std::uint32_t send_window::sendable() const noexcept {
  return available_ > 0 ? static_cast<std::uint32_t>(available_) : 0;
}

void send_window::consume(std::uint32_t length) {
  if (length > sendable()) {
    throw_invalid_argument(
        fmt::format("{} bytes of DATA sent with a send window of {}", length, available_));
  }
  available_ -= length;
}

bool send_window::grow(std::uint32_t increment) noexcept {
  if (available_ + increment > max_window_size) return false;
  available_ += increment;
  return true;
}

void send_window::apply_initial_window_change(std::uint32_t old_size, std::uint32_t new_size) {
  const std::int64_t moved = available_ + (std::int64_t{new_size} - old_size);
  if (moved > max_window_size) {
    throw connection_error(
        error_code::flow_control_error,
        fmt::format("HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE {} (from {}) makes a stream's send "
                    "window {} (over 2^31-1)",
                    new_size, old_size, moved));
  }
  available_ = moved;
}

receive_window::receive_window(std::uint32_t size) : receive_window(size, size) {}

receive_window::receive_window(std::uint32_t size, std::uint32_t advertised)
    : size_(size), available_(advertised), released_(size - advertised) {
  if (size > max_window_size || advertised > size) {
    throw_invalid_argument(fmt::format(
        "receive window {} (advertised {}) is outside [advertised, 2^31-1]", size, advertised));
  }
  announce_ = released_ > 0;
}

bool receive_window::receive(std::uint32_t length) noexcept {
  if (length > available_) return false;
  available_ -= length;
  return true;
}

void receive_window::release(std::uint32_t n) {
  const std::uint32_t held = size_ - available_ - released_;
  if (n > held) {
    throw_invalid_argument(
        fmt::format("{} bytes released with only {} received and held", n, held));
  }
  released_ += n;
}

std::uint32_t receive_window::take_update() noexcept {
  const std::uint32_t half = size_ - size_ / 2;  // rounded up, so a window of 1 updates at 1
  if (released_ == 0 || (released_ < half && !announce_)) return 0;
  const std::uint32_t increment = released_;
  available_ += increment;
  released_ = 0;
  announce_ = false;
  return increment;
}

}  // namespace keyless::http::h2
