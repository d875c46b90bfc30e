#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "identity/credential_selection.hpp"
#include "keyless/core/error.hpp"

namespace bdata = boost::unit_test::data;
using keyless::identity::detail::parse_credential_selection;

BOOST_AUTO_TEST_SUITE(credential_selection)

BOOST_AUTO_TEST_CASE(unset_or_blank_enables_every_source) {
  for (auto value : {std::optional<std::string_view>{}, std::optional<std::string_view>{""},
                     std::optional<std::string_view>{"  \t"}}) {
    auto s = parse_credential_selection(value);
    BOOST_TEST((s.environment && s.workload_identity && s.managed_identity && s.azure_cli &&
                s.azure_developer_cli));
    BOOST_TEST(!s.single_named);
  }
}

BOOST_DATA_TEST_CASE(dev_selects_the_developer_clis, bdata::make({"dev", "DeV", "dEv ", " DEV  "}),
                     value) {
  auto s = parse_credential_selection(std::string_view(value));
  BOOST_TEST((s.azure_cli && s.azure_developer_cli));
  BOOST_TEST((!s.environment && !s.workload_identity && !s.managed_identity));
}

BOOST_DATA_TEST_CASE(prod_selects_the_deployed_sources, bdata::make({"prod", "pRoD", " PrOd"}),
                     value) {
  auto s = parse_credential_selection(std::string_view(value));
  BOOST_TEST((s.environment && s.workload_identity && s.managed_identity));
  BOOST_TEST((!s.azure_cli && !s.azure_developer_cli));
  BOOST_TEST(!s.single_named);  // "prod" still probes IMDS: it only narrows the chain
}

BOOST_AUTO_TEST_CASE(a_credential_name_selects_only_it_and_skips_the_probe) {
  auto s = parse_credential_selection(std::string_view(" ManagedIdentityCredential "));
  BOOST_TEST(s.managed_identity);
  BOOST_TEST((!s.environment && !s.workload_identity && !s.azure_cli && !s.azure_developer_cli));
  BOOST_TEST(s.single_named);
  BOOST_TEST(parse_credential_selection(std::string_view("azureclicredential")).azure_cli);
  BOOST_TEST(parse_credential_selection(std::string_view("AzureDeveloperCliCredential"))
                 .azure_developer_cli);
}

BOOST_DATA_TEST_CASE(anything_else_is_refused_with_the_valid_values,
                     bdata::make({"d ev", "production", "cli", "EnvironmentCredential,dev"}),
                     value) {
  try {
    parse_credential_selection(std::string_view(value));
    BOOST_FAIL("accepted an invalid AZURE_TOKEN_CREDENTIALS");
  } catch (const keyless::error& e) {
    BOOST_TEST((e.code() == keyless::errc::invalid_argument));
    BOOST_TEST(e.message().find(value) != std::string::npos);
    BOOST_TEST(e.message().find("'prod'") != std::string::npos);
    BOOST_TEST(e.message().find("'AzureCliCredential'") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
