#include "proxy.hpp"

#include <cstdlib>
#include <string>

#include <openssl/evp.h>

#include <fmt/core.h>

#include "core/env_value.hpp"
#include "core/text.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::http {
namespace {

// The lower-case spelling wins, as in curl and Go: it is the older convention,
// and tools that set both usually agree anyway.
std::string first_set(const char* lower, const char* upper) {
  std::string value = keyless::detail::env_value(lower);
  return value.empty() ? keyless::detail::env_value(upper) : value;
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::uint16_t to_port(std::string_view digits) noexcept {
  unsigned value = 0;
  for (char c : digits) {
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return 0;
  }
  return static_cast<std::uint16_t>(value);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

proxy_settings proxy_settings::from_environment() {
  proxy_settings settings;
  settings.https_proxy = first_set("https_proxy", "HTTPS_PROXY");
  settings.http_proxy = keyless::detail::env_value("http_proxy");
  // In a CGI program HTTP_PROXY is the client-controlled "Proxy:" request
  // header ("httpoxy"), so it is only trusted outside CGI.
  if (settings.http_proxy.empty() && std::getenv("REQUEST_METHOD") == nullptr) {
    settings.http_proxy = keyless::detail::env_value("HTTP_PROXY");
  }
  settings.no_proxy = first_set("no_proxy", "NO_PROXY");
  return settings;
}

namespace detail {

std::shared_ptr<const proxy_endpoint> parse_proxy_url(std::string_view text,
                                                      std::string_view setting) {
  text = keyless::detail::trim(text);
  if (text.empty()) return nullptr;

  std::string_view rest = text;
  if (auto sep = rest.find("://"); sep != std::string_view::npos) {
    if (keyless::detail::ascii_lower(rest.substr(0, sep)) != "http") {
      throw keyless::error(
          errc::invalid_argument,
          fmt::format("{}: only http:// proxies are supported (https URLs are tunnelled through "
                      "them with CONNECT)",
                      setting));
    }
    rest.remove_prefix(sep + 3);
  }

  auto endpoint = std::make_shared<proxy_endpoint>();
  std::size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    std::string_view user = userinfo.substr(0, userinfo.find(':'));
    std::string_view password =
        user.size() < userinfo.size() ? userinfo.substr(user.size() + 1) : std::string_view();
    try {
      endpoint->authorization =
          "Basic " + base64(percent_decode(user) + ":" + percent_decode(password));
    } catch (const keyless::error&) {
      throw keyless::error(
          errc::invalid_argument,
          fmt::format("{}: the proxy user name or password has a bad %-escape", setting));
    }
    rest.remove_prefix(at + 1);
  }

  url parsed;
  try {
    parsed = url::parse("http://" + std::string(rest));
  } catch (const keyless::error& e) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{} is not a usable proxy URL: {}", setting, e.what()));
  }
  if (parsed.target != "/") {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: a proxy URL has no path or query", setting));
  }
  endpoint->host = parsed.host;
  endpoint->port = parsed.port;
  endpoint->display = parsed.origin();
  return endpoint;
}

no_proxy_list::no_proxy_list(std::string_view spec) {
  while (!spec.empty()) {
    std::size_t comma = spec.find(',');
    std::string item = keyless::detail::ascii_lower(keyless::detail::trim(spec.substr(0, comma)));
    spec.remove_prefix(comma == std::string_view::npos ? spec.size() : comma + 1);
    if (item.empty()) continue;
    if (item == "*") {
      all_ = true;
      continue;
    }

    entry e;
    std::string_view host = item;
    if (host.front() == '[') {
      // "[v6]" or "[v6]:port"
      std::size_t close = host.find(']');
      if (close == std::string_view::npos) continue;
      std::string_view after = host.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':' || !all_digits(after.substr(1))) continue;
        e.port = to_port(after.substr(1));
        if (e.port == 0) continue;
      }
      host = host.substr(1, close - 1);
    } else if (std::size_t colon = host.rfind(':');
               colon != std::string_view::npos && host.find(':') == colon) {
      // Exactly one ':' is host:port; several are a bare IPv6 address.
      if (!all_digits(host.substr(colon + 1))) continue;
      e.port = to_port(host.substr(colon + 1));
      if (e.port == 0) continue;
      host = host.substr(0, colon);
    }

    std::error_code ec;
    if (host.find('/') != std::string_view::npos) {
      std::string text(host);
      if (auto v4 = asio::ip::make_network_v4(text, ec); !ec) {
        e.type = entry::kind::network_v4;
        e.v4 = v4.canonical();
      } else if (auto v6 = asio::ip::make_network_v6(text, ec); !ec) {
        e.type = entry::kind::network_v6;
        e.v6 = v6.canonical();
      } else {
        continue;
      }
    } else if (auto address = asio::ip::make_address(std::string(host), ec); !ec) {
      e.type = entry::kind::address;
      e.address = address;
    } else {
      if (host.substr(0, 2) == "*.") host.remove_prefix(2);
      while (!host.empty() && host.front() == '.') host.remove_prefix(1);
      if (host.empty()) continue;
      e.type = entry::kind::domain;
      e.domain = std::string(host);
    }
    entries_.push_back(std::move(e));
  }
}

bool no_proxy_list::matches(std::string_view host, std::uint16_t port) const {
  if (all_) return true;
  if (entries_.empty()) return false;
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(host), ec);
  bool is_address = !ec;
  for (const entry& e : entries_) {
    if (e.port != 0 && e.port != port) continue;
    switch (e.type) {
      case entry::kind::domain:
        if (is_address) break;
        if (host == e.domain) return true;
        if (host.size() > e.domain.size() && host.ends_with(e.domain) &&
            host[host.size() - e.domain.size() - 1] == '.') {
          return true;
        }
        break;
      case entry::kind::address:
        if (is_address && address == e.address) return true;
        break;
      case entry::kind::network_v4:
        if (is_address && address.is_v4()) {
          auto prefix = asio::ip::network_v4(address.to_v4(), e.v4.prefix_length()).canonical();
          if (prefix == e.v4) return true;
        }
        break;
      case entry::kind::network_v6:
        if (is_address && address.is_v6()) {
          auto prefix = asio::ip::network_v6(address.to_v6(), e.v6.prefix_length()).canonical();
          if (prefix == e.v6) return true;
        }
        break;
    }
  }
  return false;
}

proxy_config::proxy_config(const proxy_settings& settings)
    : https_(parse_proxy_url(settings.https_proxy, "HTTPS_PROXY")),
      http_(parse_proxy_url(settings.http_proxy, "HTTP_PROXY")),
      no_proxy_(settings.no_proxy) {}

std::shared_ptr<const proxy_endpoint> proxy_config::select(const url& target) const {
  const auto& proxy = target.is_https() ? https_ : http_;
  if (!proxy || no_proxy_.matches(target.host, target.port)) return nullptr;
  return proxy;
}

}  // namespace detail
}  // namespace keyless::http
