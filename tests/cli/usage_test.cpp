// The keyless command's help and its answers to bad command lines.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "cli_support.hpp"

namespace keyless::cli_test {

BOOST_AUTO_TEST_SUITE(usage)

BOOST_AUTO_TEST_CASE(top_level_help_lists_every_command) {
  const auto r = run_keyless({"--help"}, {});
  BOOST_TEST(r.exit_code == 0);
  for (const char* command : {"token", "chat", "doctor", "bench"}) {
    BOOST_TEST(contains(r.out, std::string("  ") + command + " "), command);
  }
}

BOOST_AUTO_TEST_CASE(each_subcommand_prints_its_help_and_options) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands{
      {"token", {"--scope", "--resource", "--tenant", "--credential", "--output"}},
      {"chat",
       {"--endpoint", "--deployment", "--api-version", "--api-key-env", "--stream", "--system"}},
      {"doctor", {"--endpoint", "--deployment", "--scope"}},
  };
  for (const auto& [command, options] : commands) {
    BOOST_TEST_CONTEXT(command) {
      const auto r = run_keyless({command, "--help"}, {});
      BOOST_TEST(r.exit_code == 0);
      BOOST_TEST(r.out.starts_with("usage: keyless " + command));
      for (const auto& option : options) BOOST_TEST(contains(r.out, option), option);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_command_lines_exit_2_naming_the_problem) {
  struct bad {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<bad> cases{
      {{}, "usage: keyless"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"token", "--bogus"}, "unknown option '--bogus'"},
      {{"token", "-x"}, "unknown option '-x'"},
      {{"token", "--scope"}, "'--scope' needs a value"},
      {{"token", "--output", "xml"}, "--output must be json or tsv"},
      {{"token", "--credential", "vault"}, "--credential must be one of"},
      {{"token", "--scope", "a/.default", "--resource", "b"}, "not both"},
      {{"token", "extra"}, "unexpected argument 'extra'"},
      {{"chat", "--stream=yes", "hi"}, "takes no value"},
      {{"doctor", "--nope"}, "unknown option '--nope'"},
      {{"doctor", "--scope="}, "must not be empty"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.mentions) {
      const auto r = run_keyless(c.args, {});
      BOOST_TEST(r.exit_code == 2);
      BOOST_TEST(r.out.empty());
      BOOST_TEST(contains(r.err, c.mentions), r.err);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::cli_test
