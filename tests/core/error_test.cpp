#include <boost/test/unit_test.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/core/log.hpp"
#include "core/logging.hpp"

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(error)

BOOST_AUTO_TEST_CASE(error_carries_code_message_and_details) {
  keyless::diagnostics d;
  d.http_status = 401;
  d.service_code = "AADSTS7000215";
  try {
    throw keyless::error(keyless::errc::authentication_failed, "client secret rejected", d);
  } catch (...) {
    auto seen = keyless::inspect(std::current_exception());
    BOOST_TEST(seen.code == keyless::errc::authentication_failed);
    BOOST_TEST(seen.message.find("client secret rejected") != std::string::npos);
    BOOST_TEST(*seen.details.http_status == 401);
    BOOST_TEST(seen.details.service_code == "AADSTS7000215");
  }
}

BOOST_AUTO_TEST_CASE(inspect_of_null_is_empty) {
  BOOST_TEST(!keyless::inspect(nullptr).code);
}

BOOST_AUTO_TEST_CASE(category_names_each_code) {
  BOOST_TEST(keyless::make_error_code(keyless::errc::credential_unavailable).message() ==
             "credential unavailable");
  BOOST_TEST(std::string(keyless::keyless_category().name()) == "keyless");
}

BOOST_AUTO_TEST_CASE(manual_clock_moves_only_when_told) {
  keyless::manual_clock clock;
  auto start = clock.now();
  clock.advance(std::chrono::seconds(30));
  BOOST_TEST((clock.now() - start == std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(log_sink_receives_lines_at_or_above_its_level) {
  std::vector<std::string> lines;
  keyless::set_log_sink([&](keyless::log_level, std::string_view m) { lines.emplace_back(m); },
                        keyless::log_level::warning);
  keyless::detail::log(keyless::log_level::info, "dropped {}", 1);
  keyless::detail::log(keyless::log_level::error, "kept {}", 2);
  keyless::set_log_sink({});
  keyless::detail::log(keyless::log_level::error, "silenced");
  BOOST_TEST(lines.size() == 1u);
  BOOST_TEST(lines.front() == "kept 2");
}

BOOST_AUTO_TEST_SUITE_END()
