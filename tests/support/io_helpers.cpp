#include "io_helpers.hpp"

namespace keyless::testing {

std::size_t run_until_idle(asio::io_context&) {
  throw std::logic_error("not implemented yet");
}
namespace detail {
void run_until(asio::io_context&, const bool&, std::chrono::steady_clock::duration) {
  throw std::logic_error("not implemented yet");
}
}  // namespace detail
gate::gate(asio::any_io_executor executor) : timer_(executor) {}
asio::awaitable<void> gate::wait() {
  co_return;
}
void gate::open() {
  open_ = true;
}
void gate::reset() {
  open_ = false;
}
std::size_t count_open_fds() {
  return 0;
}

}  // namespace keyless::testing
