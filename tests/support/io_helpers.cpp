#include "io_helpers.hpp"

#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>

#include <asio/error.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/use_awaitable.hpp>
#include <keyless/detail/asio_compat.hpp>

namespace keyless::testing {

std::size_t run_until_idle(asio::io_context& io) {
  if (io.stopped()) io.restart();
  std::size_t total = 0;
  while (std::size_t n = io.poll()) total += n;
  io.restart();
  return total;
}

namespace detail {

void run_until(asio::io_context& io, const bool& done, std::chrono::steady_clock::duration limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done) {
    if (std::chrono::steady_clock::now() >= deadline) {
      auto seconds = std::chrono::duration_cast<std::chrono::duration<double>>(limit).count();
      throw std::runtime_error("run_sync: task did not finish within " + std::to_string(seconds) +
                               " s");
    }
    // run_one_until returns at once when the context ran out of work (it is then stopped); the
    // task may still be waiting on another thread, so restart and keep checking the deadline.
    if (io.stopped()) io.restart();
    io.run_one_until(deadline);
  }
  if (io.stopped()) io.restart();
}

}  // namespace detail

gate::gate(asio::any_io_executor executor) : timer_(std::move(executor)) {
  timer_.expires_at(asio::steady_timer::time_point::max());
}

asio::awaitable<void> gate::wait() {
  if (open_) co_return;
  // Compare generations rather than open_: an open() followed by reset() before this waiter
  // resumes must still release it.
  std::uint64_t generation = generation_;
  ++waiters_;
  auto [ec] = co_await timer_.async_wait(net::as_tuple(asio::use_awaitable));
  --waiters_;
  if (generation_ == generation) {
    throw std::system_error(ec ? ec : make_error_code(asio::error::operation_aborted),
                            "gate::wait cancelled");
  }
}

void gate::open() {
  if (open_) return;
  open_ = true;
  ++generation_;
  timer_.cancel();
}

void gate::reset() {
  open_ = false;
}

std::size_t count_open_fds() {
  std::size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd");
       it != std::filesystem::directory_iterator(); ++it)
    ++count;
  // The iterator holds one descriptor for the directory itself while counting.
  return count - 1;
}

void listen_on_loopback(asio::ip::tcp::acceptor& acceptor, bool ipv6, std::uint16_t port) {
  using asio::ip::tcp;
  tcp::endpoint endpoint(ipv6 ? asio::ip::address(asio::ip::address_v6::loopback())
                              : asio::ip::address(asio::ip::address_v4::loopback()),
                         port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (ipv6) acceptor.set_option(asio::ip::v6_only(true));
  acceptor.bind(endpoint);
  acceptor.listen();
}

}  // namespace keyless::testing
