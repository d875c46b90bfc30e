#pragma once
// Proxy selection from proxy_settings: which proxy (if any) a URL goes through.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ip/address.hpp>
#include <asio/ip/network_v4.hpp>
#include <asio/ip/network_v6.hpp>

#include "keyless/http/client_options.hpp"
#include "keyless/http/url.hpp"

namespace keyless::http::detail {

/// A forward proxy to dial. Immutable once built.
struct proxy_endpoint {
  std::string host;  ///< IPv6 without brackets
  std::uint16_t port = 80;
  /// "Basic ..." from the proxy URL's user info, or empty. A secret: never logged or shown.
  std::string authorization;
  /// "http://host:port", for messages and pool keys (never the credentials).
  std::string display;
};

/// A parsed NO_PROXY list.
class no_proxy_list {
 public:
  no_proxy_list() = default;
  /// Parses a comma-separated list; entries that are not understood are ignored.
  explicit no_proxy_list(std::string_view spec);

  /// Whether a request to `host` (lower-case, IPv6 unbracketed) on `port` bypasses proxies.
  bool matches(std::string_view host, std::uint16_t port) const;

 private:
  struct entry {
    enum class kind { domain, address, network_v4, network_v6 } type = kind::domain;
    std::string domain;  // lower-case, no leading dot
    asio::ip::address address;
    asio::ip::network_v4 v4;
    asio::ip::network_v6 v6;
    std::uint16_t port = 0;  // 0: any port
  };

  bool all_ = false;
  std::vector<entry> entries_;
};

/// The proxies a client uses. Immutable after construction; safe to share.
class proxy_config {
 public:
  proxy_config() = default;
  /// Throws keyless::error(invalid_argument) naming the setting (never its value, which may
  /// hold a password) when a proxy URL is unusable.
  explicit proxy_config(const proxy_settings& settings);

  /// The proxy for `target`, or null to connect directly.
  std::shared_ptr<const proxy_endpoint> select(const url& target) const;

 private:
  std::shared_ptr<const proxy_endpoint> https_;
  std::shared_ptr<const proxy_endpoint> http_;
  no_proxy_list no_proxy_;
};

/// Parses one proxy URL ("http://[user:pass@]host[:port]", scheme optional). `setting` names it
/// in errors ("HTTPS_PROXY"). Returns null for an empty or blank text.
std::shared_ptr<const proxy_endpoint> parse_proxy_url(std::string_view text,
                                                      std::string_view setting);

}  // namespace keyless::http::detail
