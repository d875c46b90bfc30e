// HTTP/2 flow-control arithmetic: the send window (WINDOW_UPDATE, overflow,
// SETTINGS_INITIAL_WINDOW_SIZE changes) and the receive window's policy.

#include <boost/test/unit_test.hpp>

#include "http/h2/flow_window.hpp"
#include "http/h2/frame.hpp"
#include "keyless/core/error.hpp"

#include <cstdint>

namespace h2 = keyless::http::h2;

namespace {

constexpr std::uint32_t max_window = 0x7fffffff;

bool invalid_argument(const keyless::error& e) {
  return e.code() == keyless::errc::invalid_argument;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_window)

// --- send ---

BOOST_AUTO_TEST_CASE(send_window_starts_at_65535_and_shrinks_as_data_is_sent) {
  h2::send_window w;
  BOOST_TEST(w.available() == 65535);
  w.consume(65000);
  BOOST_TEST(w.sendable() == 535u);
  w.consume(535);
  BOOST_TEST(w.sendable() == 0u);
  BOOST_CHECK_EXCEPTION(w.consume(1), keyless::error, invalid_argument);
  BOOST_TEST(w.available() == 0);
}

BOOST_AUTO_TEST_CASE(send_window_grows_up_to_2_pow_31_minus_1_and_no_further) {
  h2::send_window w;
  BOOST_TEST(w.grow(max_window - 65535));
  BOOST_TEST(w.available() == max_window);
  BOOST_TEST(!w.grow(1));  // FLOW_CONTROL_ERROR; the window is as it was
  BOOST_TEST(w.available() == max_window);
  w.consume(10);
  BOOST_TEST(!w.grow(11));
  BOOST_TEST(w.grow(10));
  BOOST_TEST(w.sendable() == max_window);

  h2::send_window empty(0);
  BOOST_TEST(empty.grow(max_window));
  BOOST_TEST(!empty.grow(1));
}

BOOST_AUTO_TEST_CASE(a_smaller_initial_window_can_make_the_send_window_negative) {
  h2::send_window w;  // 65535
  w.consume(60000);   // 5535 left
  w.apply_initial_window_change(65535, 16384);
  BOOST_TEST(w.available() == 5535 - 49151);
  BOOST_TEST(w.sendable() == 0u);
  BOOST_CHECK_EXCEPTION(w.consume(1), keyless::error, invalid_argument);
  BOOST_TEST(w.grow(43616));  // back to 0: still nothing to send
  BOOST_TEST(w.available() == 0);
  BOOST_TEST(w.sendable() == 0u);
  BOOST_TEST(w.grow(100));
  BOOST_TEST(w.sendable() == 100u);
  w.apply_initial_window_change(16384, 0);
  BOOST_TEST(w.available() == 100 - 16384);
  w.apply_initial_window_change(0, 65535);
  BOOST_TEST(w.available() == 100 - 16384 + 65535);
}

BOOST_AUTO_TEST_CASE(a_larger_initial_window_past_2_pow_31_minus_1_is_a_connection_error) {
  h2::send_window w;
  BOOST_TEST(w.grow(max_window - 65535 - 10));  // 10 below the maximum
  w.apply_initial_window_change(65535, 65545);  // exactly the maximum
  BOOST_TEST(w.available() == max_window);
  try {
    w.apply_initial_window_change(65545, 65546);
    BOOST_ERROR("no exception");
  } catch (const h2::connection_error& e) {
    BOOST_TEST((e.h2_code() == h2::error_code::flow_control_error));
    BOOST_TEST(e.message() ==
               "HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE 65546 (from 65545) makes a stream's send "
               "window 2147483648 (over 2^31-1)");
  }
  BOOST_TEST(w.available() == max_window);
}

BOOST_AUTO_TEST_CASE(send_window_initial_value_is_checked) {
  BOOST_CHECK_EXCEPTION(h2::send_window{0x80000000}, keyless::error, invalid_argument);
  BOOST_TEST(h2::send_window{max_window}.available() == max_window);
}

// --- receive ---

BOOST_AUTO_TEST_CASE(receive_window_refuses_data_past_the_window) {
  h2::receive_window w(100);
  BOOST_TEST(w.receive(60));
  BOOST_TEST(w.available() == 40u);
  BOOST_TEST(!w.receive(41));  // FLOW_CONTROL_ERROR; the window is as it was
  BOOST_TEST(w.available() == 40u);
  BOOST_TEST(w.receive(40));
  BOOST_TEST(!w.receive(1));
  BOOST_TEST(w.receive(0));
}

BOOST_AUTO_TEST_CASE(window_update_waits_until_half_the_window_is_released) {
  h2::receive_window w;  // 65535: the update comes at 32768 released bytes
  BOOST_TEST(w.take_update() == 0u);
  BOOST_TEST(w.receive(16384));
  BOOST_TEST(w.receive(16384));
  BOOST_TEST(w.take_update() == 0u);  // received, but the application still holds it
  w.release(16384);
  BOOST_TEST(w.take_update() == 0u);
  w.release(16383);
  BOOST_TEST(w.take_update() == 0u);  // one byte short of half
  w.release(1);
  BOOST_TEST(w.take_update() == 32768u);
  BOOST_TEST(w.available() == 65535u);  // the peer may send a whole window again
  BOOST_TEST(w.take_update() == 0u);    // counted as sent
}

BOOST_AUTO_TEST_CASE(a_reader_that_stops_reading_stops_the_peer) {
  h2::receive_window w(1000);
  BOOST_TEST(w.receive(1000));
  BOOST_TEST(w.take_update() == 0u);
  BOOST_TEST(!w.receive(1));
  w.release(600);
  BOOST_TEST(w.take_update() == 600u);
  BOOST_TEST(w.available() == 600u);
}

BOOST_AUTO_TEST_CASE(padding_released_at_once_counts_like_data) {
  h2::receive_window w(100);
  BOOST_TEST(w.receive(60));  // 40 bytes of data, 19 of padding, 1 pad length byte
  w.release(20);              // padding and pad length: nobody will read them
  BOOST_TEST(w.take_update() == 0u);
  w.release(40);
  BOOST_TEST(w.take_update() == 60u);
}

BOOST_AUTO_TEST_CASE(releasing_more_than_was_received_is_a_caller_bug) {
  h2::receive_window w(100);
  BOOST_CHECK_EXCEPTION(w.release(1), keyless::error, invalid_argument);
  BOOST_TEST(w.receive(10));
  w.release(10);
  BOOST_CHECK_EXCEPTION(w.release(1), keyless::error, invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_connection_window_larger_than_65535_is_announced_at_once) {
  h2::receive_window w(16 << 20, h2::default_initial_window_size);
  BOOST_TEST(w.available() == 65535u);
  BOOST_TEST(w.take_update() == (16u << 20) - 65535u);
  BOOST_TEST(w.available() == 16u << 20);
  BOOST_TEST(w.take_update() == 0u);
  // Even a surplus under half the window goes out at once.
  h2::receive_window small(100000, 65535);
  BOOST_TEST(small.take_update() == 100000u - 65535u);
}

BOOST_AUTO_TEST_CASE(tiny_and_maximal_windows) {
  h2::receive_window one(1);
  BOOST_TEST(one.receive(1));
  one.release(1);
  BOOST_TEST(one.take_update() == 1u);

  h2::receive_window zero(0);
  BOOST_TEST(!zero.receive(1));
  BOOST_TEST(zero.take_update() == 0u);

  h2::receive_window large(max_window, h2::default_initial_window_size);
  BOOST_TEST(large.take_update() == max_window - 65535u);
  BOOST_TEST(large.receive(max_window));
  large.release(max_window);
  BOOST_TEST(large.take_update() == max_window);
}

BOOST_AUTO_TEST_CASE(receive_window_sizes_are_checked) {
  BOOST_CHECK_EXCEPTION(h2::receive_window{0x80000000}, keyless::error, invalid_argument);
  BOOST_CHECK_EXCEPTION((h2::receive_window{100, 101}), keyless::error, invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
