#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keyless/core/error.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// One member of a chain.
struct chain_source {
  std::shared_ptr<token_credential> credential;
  /// Starting it costs a process spawn or similar (az, azd): in concurrent mode it
  /// starts only after `chain_options::hedge_delay`, unless every source ahead of it
  /// has already failed.
  bool costly = false;
  /// Whether it exists at all is learned only from its answer (the managed identity
  /// endpoint, which on a laptop may be missing or black-holed). In concurrent mode,
  /// once a source behind it has a token and it has still not answered, it is taken
  /// as absent and cancelled instead of holding the token back until its timeout.
  /// An answer (token or refusal) that arrives first still counts with full priority.
  bool presence_unknown = false;
};

struct chain_options {
  enum class mode {
    sequential,  ///< try one source at a time, in order (the peers' behaviour)
    concurrent,  ///< start them together; still return the highest-priority success
  };
  mode run_mode = mode::sequential;
  /// How long costly sources wait for the sources ahead of them. On a laptop without
  /// managed identity the sources ahead usually fail within milliseconds (env/workload
  /// are local checks; the IMDS connection is refused), so the CLI starts at once; where
  /// the endpoint is black-holed, the CLI starts after this delay instead of after the
  /// probe's timeout; where managed identity answers inside the delay, az is never
  /// spawned. See default_azure_credential_options::hedge_delay for the measurement
  /// behind the 200 ms default.
  std::chrono::milliseconds hedge_delay{200};
  /// Later calls go straight to the source that succeeded first.
  bool remember_winner = true;
  /// Name used in messages, e.g. "DefaultAzureCredential".
  std::string name = "ChainedTokenCredential";
  /// Appended to the aggregate error when no more specific fix is known.
  std::string troubleshooting_hint;
};

/// What happened during the last walk of the chain.
struct chain_report {
  std::optional<std::string> winner;     ///< name of the source whose token was returned
  std::vector<source_attempt> attempts;  ///< one entry per source, in chain order
};

/// Tries credentials in priority order; the first to succeed wins.
///
/// A source reporting errc::credential_unavailable is skipped. Any other failure
/// (for example a configured service principal whose secret is refused) stops the
/// chain and is reported: keyless never silently falls through to another identity.
/// In concurrent mode all sources run at once, but a lower-priority success is held
/// until every source ahead of it is unavailable (or, for a source marked
/// presence_unknown, still silent); losers are cancelled.
///
/// Concurrent callers asking for the same request (scopes, tenant, claims, CAE) while
/// no winner is remembered share one walk of the chain, so a burst of first calls
/// spawns `az` once. Cancellation: a cancelled caller stops waiting and completes
/// with asio::error::operation_aborted; the walk goes on for the other callers, and
/// is cancelled with its sources (subprocesses killed, sockets closed) only when
/// every caller waiting for it has been cancelled.
///
/// Thread-safety: safe to share (internally stranded). The chain and its sources must
/// outlive its operations.
class chained_token_credential : public token_credential {
 public:
  chained_token_credential(asio::any_io_executor executor, std::vector<chain_source> sources,
                           chain_options options = {});
  ~chained_token_credential() override;

  asio::any_io_executor get_executor() const override;
  std::string_view name() const noexcept override;
  asio::awaitable<access_token> get_token(token_request req) override;

  /// Makes the next call walk the whole chain again.
  void forget_winner() noexcept;
  /// The report of the most recent full walk (empty before the first).
  chain_report last_report() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
