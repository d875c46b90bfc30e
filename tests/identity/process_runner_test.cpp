#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>

#include "cli_test_support.hpp"
#include "identity/process_runner.hpp"
#include "keyless/core/error.hpp"

namespace d = keyless::identity::detail;
using namespace keyless_test;
using namespace std::chrono_literals;

namespace {

d::process_options fake(const temp_dir& record) {
  d::process_options options;
  options.program = fakes_dir() + "/fake_cli";
  options.display_name = "fake CLI";
  options.environment.emplace_back("FAKE_CLI_RECORD_DIR", record.path());
  return options;
}

void set(d::process_options& options, const std::string& name, const std::string& value) {
  options.environment.emplace_back(name, value);
}

outcome<d::process_result> run(d::process_options options,
                               asio::cancellation_slot slot = asio::cancellation_slot()) {
  asio::io_context io;
  return run_on<d::process_result>(
      io, [&] { return d::run_process(options); }, slot);
}

keyless::errc code_of(const std::exception_ptr& e) {
  if (!e) return keyless::errc{};
  try {
    std::rethrow_exception(e);
  } catch (const keyless::error& ex) {
    return static_cast<keyless::errc>(ex.code().value());
  } catch (...) {
  }
  return keyless::errc{};
}

std::string message_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const keyless::error& ex) {
    return ex.message();
  } catch (const std::exception& ex) {
    return ex.what();
  }
}

// Emits `type` on `signal` once the fake has written its pid file: the
// child is then certainly running.
asio::awaitable<void> cancel_when_started(const temp_dir& record, asio::cancellation_signal& signal,
                                          asio::cancellation_type type) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 3000 && !recorded_pid(record, "grandchild"); ++i) {
    timer.expires_after(10ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  signal.emit(type);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(process_runner)

BOOST_AUTO_TEST_CASE(runs_an_argument_vector_verbatim_and_captures_both_streams) {
  temp_dir record;
  auto options = fake(record);
  // Shell syntax must reach the program as plain bytes: there is no shell.
  options.arguments = {"account", "a b", "$(touch /tmp/keyless-pwned)", "; rm -rf /", "*", "'\"",
                       "",        "-x"};
  set(options, "FAKE_CLI_STDOUT", "to stdout\n");
  set(options, "FAKE_CLI_STDERR", "to stderr\n");
  set(options, "FAKE_CLI_EXIT", "3");
  auto r = run(options);
  BOOST_TEST_REQUIRE(r.finished);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  BOOST_TEST(r.value->out == "to stdout\n");
  BOOST_TEST(r.value->err == "to stderr\n");
  BOOST_TEST(*r.value->exit_code == 3);
  BOOST_TEST(r.value->signal == 0);
  BOOST_TEST(recorded_argv(record) == options.arguments, boost::test_tools::per_element());
  BOOST_TEST(!std::filesystem::exists("/tmp/keyless-pwned"));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(stdin_is_dev_null_so_a_reader_sees_end_of_file) {
  d::process_options options;
  options.program = "cat";  // found on PATH; would block forever on a terminal
  auto r = run(options);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  BOOST_TEST(r.value->out.empty());
  BOOST_TEST(*r.value->exit_code == 0);
  BOOST_TEST(r.value->path.front() == '/');
}

BOOST_AUTO_TEST_CASE(environment_changes_and_working_directory_reach_the_child) {
  temp_dir record;
  scoped_env inherited("KEYLESS_TEST_INHERITED", "kept");
  scoped_env removed("KEYLESS_TEST_REMOVED", "present");
  auto options = fake(record);
  set(options, "KEYLESS_TEST_SET", "first");
  set(options, "KEYLESS_TEST_SET", "second");  // the later change wins
  options.environment.emplace_back("KEYLESS_TEST_REMOVED", std::nullopt);
  options.working_directory = "/";
  auto r = run(options);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  const auto env = *read_file(record / "env");
  BOOST_TEST(env.find("KEYLESS_TEST_INHERITED=kept\n") != std::string::npos);
  BOOST_TEST(env.find("KEYLESS_TEST_SET=second\n") != std::string::npos);
  BOOST_TEST(env.find("KEYLESS_TEST_SET=first") == std::string::npos);
  BOOST_TEST(env.find("KEYLESS_TEST_REMOVED") == std::string::npos);
  BOOST_TEST(*read_file(record / "cwd") == "/\n");
}

BOOST_AUTO_TEST_CASE(programs_are_found_on_the_effective_path_skipping_relative_entries) {
  temp_dir bin;
  std::filesystem::create_symlink(fakes_dir() + "/az", bin / "az");
  d::process_options options;
  options.program = "az";
  options.environment.emplace_back("PATH", "relative/dir::" + bin.path().string());
  BOOST_TEST(*d::find_program(options) == bin / "az");

  // "." and "" name the current directory: never searched.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(bin.path());
  options.environment.back().second = ".::bin";
  const auto found = d::find_program(options);
  std::filesystem::current_path(cwd);
  BOOST_TEST(!found.has_value());

  options.environment.back().second = "/nonexistent";
  auto r = run(options);
  BOOST_TEST(code_of(r.error) == keyless::errc::process_failed);
  BOOST_TEST(message_of(r.error) == "az: 'az' was not found");
}

BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_executed_fails_to_start_clearly) {
  temp_dir dir;
  {
    std::ofstream(dir / "not-a-program") << "\x7f"
                                            "garbage";
  }
  ::chmod((dir / "not-a-program").c_str(), 0755);
  d::process_options options;
  options.program = dir / "not-a-program";
  options.display_name = "Broken";
  auto r = run(options);
  BOOST_TEST(code_of(r.error) == keyless::errc::process_failed);
  BOOST_TEST(message_of(r.error).find("Broken: could not start") != std::string::npos);

  ::chmod((dir / "not-a-program").c_str(), 0644);  // not executable: not "found"
  BOOST_TEST(!d::find_program(options).has_value());
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(large_outputs_on_both_streams_are_read_concurrently) {
  temp_dir record;
  auto options = fake(record);
  // Far beyond a 64 KiB pipe buffer: reading one stream after the other
  // would deadlock with the child blocked on the other.
  set(options, "FAKE_CLI_STDERR_BYTES", "400000");
  set(options, "FAKE_CLI_STDOUT_BYTES", "300000");
  auto r = run(options);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  BOOST_TEST(r.value->out.size() == 300000u);
  BOOST_TEST(r.value->err.size() == 400000u);
  BOOST_TEST(r.value->out.find_first_not_of('x') == std::string::npos);
  BOOST_TEST(*r.value->exit_code == 0);
}

BOOST_AUTO_TEST_CASE(output_over_the_cap_fails_and_kills_the_child) {
  temp_dir record;
  auto options = fake(record);
  options.max_output = 64 * 1024;
  set(options, "FAKE_CLI_STDOUT_BYTES", "50000000");
  set(options, "FAKE_CLI_HANG", "1");  // would never exit by itself
  auto r = run(options);
  BOOST_TEST_REQUIRE(r.finished);
  BOOST_TEST(code_of(r.error) == keyless::errc::limit_exceeded);
  BOOST_TEST(message_of(r.error) ==
             "fake CLI wrote more than 65536 bytes to stdout; it was stopped");
  const auto pid = recorded_pid(record);
  BOOST_TEST_REQUIRE(pid.has_value());
  BOOST_TEST(process_gone(*pid));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(a_hanging_child_and_its_helpers_are_killed_at_the_timeout) {
  for (bool use_pidfd : {true, false}) {
    temp_dir record;
    auto options = fake(record);
    options.use_pidfd = use_pidfd;
    options.timeout = 300ms;
    set(options, "FAKE_CLI_HANG", "1");
    const auto start = std::chrono::steady_clock::now();
    auto r = run(options);
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 20s));  // generous upper bound
    BOOST_TEST(code_of(r.error) == keyless::errc::timeout);
    BOOST_TEST(message_of(r.error) == "fake CLI did not finish within 300 ms; it was stopped");
    const auto pid = recorded_pid(record);
    const auto grandchild = recorded_pid(record, "grandchild");
    BOOST_TEST_REQUIRE(pid.has_value());
    BOOST_TEST_REQUIRE(grandchild.has_value());
    BOOST_TEST(process_gone(*pid));
    // The grandchild is not ours to reap (init adopts it), but it was in the
    // child's process group, so it dies too.
    BOOST_TEST(process_dies(*grandchild));
    BOOST_TEST(no_children());
  }
}

BOOST_AUTO_TEST_CASE(cancellation_kills_the_child_and_completes_with_operation_aborted) {
  // Terminal cancellation is what co_spawn lets through by default; the
  // second round emits it before the child has even written its pid.
  for (bool wait_for_start : {true, false}) {
    temp_dir record;
    auto options = fake(record);
    options.timeout = 60s;
    set(options, "FAKE_CLI_HANG", "1");
    asio::io_context io;
    asio::cancellation_signal signal;
    if (wait_for_start) {
      asio::co_spawn(io, cancel_when_started(record, signal, asio::cancellation_type::terminal),
                     asio::detached);
    } else {
      asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
    }
    auto r = run_on<d::process_result>(
        io, [&] { return d::run_process(options); }, signal.slot());
    BOOST_TEST_REQUIRE(r.finished);
    BOOST_TEST_REQUIRE(static_cast<bool>(r.error));
    try {
      std::rethrow_exception(r.error);
    } catch (const std::system_error& e) {
      BOOST_TEST((e.code() == asio::error::operation_aborted));
    }
    if (const auto pid = recorded_pid(record)) BOOST_TEST(process_gone(*pid));
    BOOST_TEST(no_children());
  }
}

BOOST_AUTO_TEST_CASE(a_child_killed_by_a_signal_reports_the_signal) {
  d::process_options options;
  options.program = "sh";  // a test may use a shell as the program under test
  options.arguments = {"-c", "kill -TERM $$"};
  auto r = run(options);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  BOOST_TEST(!r.value->exit_code.has_value());
  BOOST_TEST(r.value->signal == SIGTERM);
}

BOOST_AUTO_TEST_CASE(the_child_starts_with_default_signal_dispositions) {
  // A server commonly ignores SIGPIPE; its helper programs must not inherit that.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  d::process_options options;
  options.program = "sh";
  options.arguments = {"-c", "grep '^SigIgn' /proc/self/status"};
  auto r = run(options);
  ::sigaction(SIGPIPE, &previous, nullptr);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  // SIGPIPE is signal 13: bit 12 of the ignored mask.
  const auto mask = std::stoull(r.value->out.substr(r.value->out.find(':') + 1), nullptr, 16);
  BOOST_TEST((mask & (1ull << (SIGPIPE - 1))) == 0u);
}

BOOST_AUTO_TEST_CASE(the_polling_fallback_reports_exit_codes) {
  temp_dir record;
  auto options = fake(record);
  options.use_pidfd = false;
  set(options, "FAKE_CLI_EXIT", "7");
  set(options, "FAKE_CLI_STDOUT", "done");
  auto r = run(options);
  BOOST_TEST_REQUIRE(!r.error, message_of(r.error));
  BOOST_TEST(*r.value->exit_code == 7);
  BOOST_TEST(r.value->out == "done");
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_before_anything_runs) {
  temp_dir record;
  auto options = fake(record);
  options.timeout = 0ms;
  BOOST_TEST(code_of(run(options).error) == keyless::errc::invalid_argument);
  options.timeout = 1s;
  options.arguments = {std::string("nul\0byte", 8)};
  BOOST_TEST(code_of(run(options).error) == keyless::errc::invalid_argument);
  options.arguments.clear();
  options.environment.emplace_back("BAD=NAME", "x");
  BOOST_TEST(code_of(run(options).error) == keyless::errc::invalid_argument);
  BOOST_TEST(!std::filesystem::exists(record / "argv"));
}

BOOST_AUTO_TEST_CASE(no_descriptor_or_child_leaks_across_every_outcome) {
  const auto before = open_fd_count();
  for (int round = 0; round < 3; ++round) {
    temp_dir record;
    {
      auto options = fake(record);
      set(options, "FAKE_CLI_STDOUT", "ok");
      BOOST_TEST(!run(options).error);
    }
    {
      auto options = fake(record);
      options.timeout = 100ms;
      set(options, "FAKE_CLI_HANG", "1");
      BOOST_TEST(code_of(run(options).error) == keyless::errc::timeout);
    }
    {
      auto options = fake(record);
      options.max_output = 1000;
      set(options, "FAKE_CLI_STDERR_BYTES", "100000");
      BOOST_TEST(code_of(run(options).error) == keyless::errc::limit_exceeded);
    }
    {
      auto options = fake(record);
      options.program = "/nonexistent/az";
      BOOST_TEST(code_of(run(options).error) == keyless::errc::process_failed);
    }
    {
      auto options = fake(record);
      options.working_directory = "/nonexistent-directory";
      BOOST_TEST(code_of(run(options).error) == keyless::errc::process_failed);
    }
  }
  BOOST_TEST(open_fd_count() == before);
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(concurrent_runs_on_a_multithreaded_io_context_stay_separate) {
  asio::io_context io(2);
  constexpr int runs = 12;
  std::vector<temp_dir> records(runs);
  std::vector<std::string> outputs(runs);
  std::atomic<int> failures{0};
  for (int i = 0; i < runs; ++i) {
    auto options = fake(records[i]);
    set(options, "FAKE_CLI_STDOUT", "run " + std::to_string(i));
    set(options, "FAKE_CLI_STDERR_BYTES", std::to_string(70000 + i));
    asio::co_spawn(io, d::run_process(options), [&, i](std::exception_ptr e, d::process_result r) {
      if (e || r.err.size() != static_cast<std::size_t>(70000 + i)) ++failures;
      outputs[i] = r.out;
    });
  }
  std::thread second([&] { io.run_for(60s); });
  io.run_for(60s);
  second.join();
  BOOST_TEST(failures.load() == 0);
  for (int i = 0; i < runs; ++i) BOOST_TEST(outputs[i] == "run " + std::to_string(i));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(durations_read_naturally_in_messages) {
  BOOST_TEST(d::describe_duration(10s) == "10 s");
  BOOST_TEST(d::describe_duration(250ms) == "250 ms");
  BOOST_TEST(d::describe_duration(1500ms) == "1.5 s");
}

BOOST_AUTO_TEST_SUITE_END()
