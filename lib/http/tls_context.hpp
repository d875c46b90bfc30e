#pragma once
// Client-side TLS set-up over asio::ssl: the shared context, per-connection verification and
// readable failure messages.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>

#include "keyless/http/tls_options.hpp"

namespace keyless::http::detail {

using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

/// A client context: TLS 1.2 minimum, peer verification on, trust from `options`. Safe to share
/// between connections and threads once built. Throws keyless::error(tls_failed) naming the CA
/// source that could not be loaded.
std::shared_ptr<asio::ssl::context> make_client_tls_context(const tls_options& options);

/// What a connection's handshake offers through ALPN.
enum class alpn_offer : std::uint8_t {
  none,         ///< nothing: the connection speaks HTTP/1.1
  h2,           ///< "h2" only: the connection will carry HTTP/2 frames or nothing
  h2_or_http1,  ///< "h2", then "http/1.1": the server picks
};

/// Sets what `stream`'s handshake offers. Throws keyless::error(tls_failed) if OpenSSL refuses.
void offer_alpn(tls_stream& stream, alpn_offer offer);

/// The protocol the handshake agreed on through ALPN; empty when none.
std::string_view alpn_selected(const tls_stream& stream) noexcept;

/// Prepares `stream` for a handshake with `host`: SNI (host names only; RFC 6066 forbids IP
/// literals) and a verify callback that adds host-name (or IP address) verification to
/// OpenSSL's chain verification.
void prepare_client_stream(tls_stream& stream, const std::string& host);

/// Why a handshake with `host` failed, in a sentence: the X509 verification result when the
/// certificate was refused ("certificate verify failed: certificate has expired"), else the
/// reason of the TLS error, never a raw OpenSSL error queue dump.
std::string describe_handshake_failure(tls_stream& stream, std::error_code ec,
                                       std::string_view host);

}  // namespace keyless::http::detail
