#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "identity/entra_token_request.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/authority.hpp"
#include "keyless/identity/tenant_policy.hpp"
#include "sources_support.hpp"

namespace bdata = boost::unit_test::data;
using keyless::errc;
using keyless::identity::is_valid_tenant_id;
using keyless::identity::multitenant_disabled_by;
using keyless::identity::normalize_authority_host;
using keyless::identity::parse_tenant_list;
using keyless::identity::tenant_policy;
using keyless::identity::token_endpoint;
using sources_test::contains;

namespace {

keyless::error caught(const std::function<void()>& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    return e;
  }
  throw std::logic_error("expected a keyless::error");
}

tenant_policy policy(std::vector<std::string> allowed = {}, bool disabled = false) {
  tenant_policy p;
  p.tenant_id = "home-tenant";
  p.additionally_allowed_tenants = std::move(allowed);
  p.multitenant_disabled = disabled;
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tenant_policy_rules)

BOOST_AUTO_TEST_CASE(authority_hosts_are_normalised_and_must_be_https) {
  BOOST_TEST(normalize_authority_host("https://login.microsoftonline.com/") ==
             "https://login.microsoftonline.com");
  BOOST_TEST(normalize_authority_host("  login.microsoftonline.us  ") ==
             "https://login.microsoftonline.us");
  BOOST_TEST(normalize_authority_host("HTTPS://Login.ChinaCloudAPI.cn//") ==
             "https://login.chinacloudapi.cn");
  BOOST_TEST(normalize_authority_host("https://127.0.0.1:8443") == "https://127.0.0.1:8443");
  BOOST_TEST(normalize_authority_host("https://adfs.contoso.com/farm/") ==
             "https://adfs.contoso.com/farm");

  auto plain = caught([] { normalize_authority_host("http://login.microsoftonline.com"); });
  BOOST_TEST(plain.code() == errc::invalid_argument);
  BOOST_TEST(contains(plain.message(), "not https"));
  BOOST_TEST(!plain.details().hint.empty());
  BOOST_TEST(caught([] { normalize_authority_host(""); }).code() == errc::invalid_argument);
  BOOST_TEST(caught([] { normalize_authority_host("https://h/?x=1"); }).code() ==
             errc::invalid_argument);
  auto userinfo = caught([] { normalize_authority_host("https://user:pw@login.example"); });
  BOOST_TEST(userinfo.code() == errc::invalid_argument);
  BOOST_TEST(!contains(userinfo.message(), "pw"));
}

BOOST_AUTO_TEST_CASE(the_token_endpoint_has_an_adfs_special_case) {
  BOOST_TEST(token_endpoint("https://login.microsoftonline.com", "contoso.onmicrosoft.com") ==
             "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  BOOST_TEST(token_endpoint("https://adfs.contoso.com", "ADFS") ==
             "https://adfs.contoso.com/adfs/oauth2/token");
}

BOOST_DATA_TEST_CASE(tenant_ids_are_letters_digits_dots_and_dashes,
                     bdata::make({"72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com",
                                  "organizations", "adfs", "A-b.9"}),
                     tenant) {
  BOOST_TEST(is_valid_tenant_id(tenant));
}

BOOST_DATA_TEST_CASE(tenant_ids_with_other_characters_are_refused,
                     bdata::make({"", "a/b", "a b", "a?x=1", "tenant%2F", "ténant", "a_b", "a\n"}),
                     tenant) {
  BOOST_TEST(!is_valid_tenant_id(tenant));
}

BOOST_AUTO_TEST_CASE(no_requested_tenant_or_the_same_tenant_uses_the_configured_one) {
  auto p = policy();
  BOOST_TEST(p.resolve(std::nullopt, "X") == "home-tenant");
  BOOST_TEST(p.resolve(std::string(), "X") == "home-tenant");
  BOOST_TEST(p.resolve(std::string("home-tenant"), "X") == "home-tenant");
  // Tenant ids are case-insensitive in Entra ID.
  BOOST_TEST(p.resolve(std::string("HOME-Tenant"), "X") == "home-tenant");
}

BOOST_AUTO_TEST_CASE(another_tenant_needs_the_allow_list) {
  auto refused = caught([] { policy().resolve(std::string("other"), "ClientSecretCredential"); });
  BOOST_TEST(refused.code() == errc::authentication_failed);
  BOOST_TEST(contains(refused.message(), "ClientSecretCredential"));
  BOOST_TEST(contains(refused.message(), "'other'"));
  BOOST_TEST(contains(refused.details().hint, "additionally_allowed_tenants"));
  BOOST_TEST(contains(refused.details().hint, "AZURE_ADDITIONALLY_ALLOWED_TENANTS"));

  BOOST_TEST(policy({"other"}).resolve(std::string("other"), "X") == "other");
  BOOST_TEST(policy({"OTHER"}).resolve(std::string("other"), "X") == "other");
  BOOST_TEST(policy({"*"}).resolve(std::string("anyone"), "X") == "anyone");
  BOOST_TEST(caught([] { policy({"third"}).resolve(std::string("other"), "X"); }).code() ==
             errc::authentication_failed);
}

BOOST_AUTO_TEST_CASE(disabled_multitenant_auth_and_adfs_ignore_the_requested_tenant) {
  BOOST_TEST(policy({}, true).resolve(std::string("other"), "X") == "home-tenant");
  tenant_policy adfs;
  adfs.tenant_id = "adfs";
  BOOST_TEST(adfs.resolve(std::string("other"), "X") == "adfs");
}

BOOST_AUTO_TEST_CASE(a_requested_tenant_that_is_not_a_tenant_id_is_an_invalid_argument) {
  auto e = caught([] { policy({"*"}).resolve(std::string("../evil"), "X"); });
  BOOST_TEST(e.code() == errc::invalid_argument);
}

BOOST_DATA_TEST_CASE(only_affirmative_values_disable_multitenant_auth,
                     bdata::make({"1", "true", "TRUE", " yes ", "On"}), value) {
  BOOST_TEST(multitenant_disabled_by(std::string_view(value)));
}

BOOST_DATA_TEST_CASE(other_values_leave_multitenant_auth_enabled,
                     bdata::make({"", "0", "false", "no", "off", "2", "T", "disable"}), value) {
  BOOST_TEST(!multitenant_disabled_by(std::string_view(value)));
}

BOOST_AUTO_TEST_CASE(the_allowed_tenant_list_is_split_on_semicolons_and_trimmed) {
  auto list = parse_tenant_list(" a ; b;;* ;");
  BOOST_TEST(list == (std::vector<std::string>{"a", "b", "*"}), boost::test_tools::per_element());
  BOOST_TEST(parse_tenant_list("").empty());
}

BOOST_AUTO_TEST_CASE(cae_merges_the_cp1_client_capability_into_claims) {
  using keyless::identity::detail::request_claims;
  keyless::identity::token_request req;
  BOOST_TEST(request_claims(req).empty());
  req.enable_cae = true;
  BOOST_TEST(request_claims(req) == R"({"access_token":{"xms_cc":{"values":["CP1"]}}})");
  req.claims = R"({"access_token":{"nbf":{"essential":true,"value":"1700000000"}}})";
  BOOST_TEST(
      request_claims(req) ==
      R"({"access_token":{"nbf":{"essential":true,"value":"1700000000"},"xms_cc":{"values":["CP1"]}}})");
  req.claims = R"({"id_token":{"x":1}})";
  BOOST_TEST(request_claims(req) ==
             R"({"id_token":{"x":1},"access_token":{"xms_cc":{"values":["CP1"]}}})");
  req.enable_cae = false;
  BOOST_TEST(request_claims(req) == R"({"id_token":{"x":1}})");
  req.claims = "not json";
  BOOST_TEST(caught([&] { request_claims(req); }).code() == errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(retry_delays_double_up_to_the_cap_and_honour_retry_after) {
  using namespace keyless::identity::detail;
  keyless::identity::retry_options r;
  r.initial_delay = std::chrono::milliseconds(800);
  r.max_delay = std::chrono::seconds(5);
  BOOST_TEST(backoff_delay(r, 0).count() == 800);
  BOOST_TEST(backoff_delay(r, 1).count() == 1600);
  BOOST_TEST(backoff_delay(r, 2).count() == 3200);
  BOOST_TEST(backoff_delay(r, 3).count() == 5000);
  BOOST_TEST(backoff_delay(r, 40).count() == 5000);

  keyless::manual_clock clock;
  keyless::http::fields h;
  BOOST_TEST(!retry_after(h, clock.now()).has_value());
  h.set("Retry-After", "7");
  BOOST_TEST(retry_after(h, clock.now())->count() == 7000);
  h.set("retry-after-ms", "250");
  BOOST_TEST(retry_after(h, clock.now())->count() == 250);
  keyless::http::fields date;
  // 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT; the manual clock starts there.
  date.set("Retry-After", "Tue, 14 Nov 2023 22:13:50 GMT");
  BOOST_TEST(retry_after(date, clock.now())->count() == 30000);
  BOOST_TEST(is_transient_status(429));
  BOOST_TEST(is_transient_status(503));
  BOOST_TEST(is_transient_status(408));
  BOOST_TEST(!is_transient_status(501));
  BOOST_TEST(!is_transient_status(400));
  BOOST_TEST(!is_transient_status(404));
}

BOOST_AUTO_TEST_CASE(transient_failures_are_judged_by_their_code_alone) {
  using keyless::identity::detail::is_transient_failure;
  // A response cut short arrives as connection_failed and is worth another try.
  BOOST_TEST(is_transient_failure(keyless::error(
      errc::connection_failed,
      "POST https://login/t: connection closed before the end of the body (9 of 100 bytes)")));
  BOOST_TEST(is_transient_failure(keyless::error(errc::timeout, "request timeout (30 ms)")));
  // Bytes that do not parse are not, whatever the message says.
  BOOST_TEST(!is_transient_failure(
      keyless::error(errc::malformed_response,
                     "malformed HTTP response: connection closed before the end of the body")));
  BOOST_TEST(!is_transient_failure(keyless::error(errc::tls_failed, "handshake failed")));
  BOOST_TEST(!is_transient_failure(keyless::error(errc::limit_exceeded, "too large")));
}

BOOST_AUTO_TEST_CASE(redaction_removes_every_occurrence_of_a_secret) {
  using keyless::identity::detail::redact;
  BOOST_TEST(redact("a SECRET b SECRET", "SECRET") == "a <redacted> b <redacted>");
  BOOST_TEST(redact("abc", "") == "abc");
  BOOST_TEST(redact("a ab abc", "ab") == "a ab abc");  // too short to be a secret
}

BOOST_AUTO_TEST_SUITE_END()
