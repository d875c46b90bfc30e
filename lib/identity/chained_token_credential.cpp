#include "keyless/identity/chained_token_credential.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include <fmt/format.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>

#include "core/logging.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace keyless::identity {
namespace {

using steady = std::chrono::steady_clock;

enum class source_status { not_started, running, unavailable, failed, succeeded, cancelled };

struct source_slot {
  source_status status = source_status::not_started;
  steady::time_point started{};
  std::chrono::milliseconds elapsed{0};
  std::exception_ptr failure;
  access_token token;
  asio::cancellation_signal cancel;
};

// One walk of the chain: lives until the walk and every source it started are done.
struct walk_state {
  walk_state(asio::strand<asio::any_io_executor> strand, std::size_t count)
      : wakeup(strand, steady::time_point::max()), hedge(strand), slots(count) {}

  asio::steady_timer wakeup;  // cancelled whenever a source reports
  asio::steady_timer hedge;   // releases costly sources in concurrent mode
  std::vector<source_slot> slots;
  bool hedge_expired = false;
  bool finished = false;
};

enum class verdict_kind { wait, success, failure, all_unavailable };
struct verdict {
  verdict_kind kind = verdict_kind::wait;
  std::size_t index = 0;
};

// The first source (in priority order) that is not unavailable decides the walk.
verdict decide(const walk_state& walk) {
  for (std::size_t i = 0; i < walk.slots.size(); ++i) {
    switch (walk.slots[i].status) {
      case source_status::unavailable:
        continue;
      case source_status::succeeded:
        return {verdict_kind::success, i};
      case source_status::failed:
        return {verdict_kind::failure, i};
      default:
        return {verdict_kind::wait, i};
    }
  }
  return {verdict_kind::all_unavailable, 0};
}

// Message of a failure without the error-class suffix std::system_error adds.
std::string describe(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const error& e) {
    return e.message();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown failure";
  }
}

diagnostics details_of(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const error& e) {
    return e.details();
  } catch (...) {
    return {};
  }
}

std::error_code code_of(const std::exception_ptr& failure) {
  return inspect(failure).code;
}

std::string_view status_word(source_status s) {
  switch (s) {
    case source_status::unavailable:
      return "unavailable";
    case source_status::failed:
      return "failed";
    case source_status::succeeded:
      return "succeeded";
    case source_status::cancelled:
      return "cancelled";
    case source_status::running:
      return "still running";
    case source_status::not_started:
      return "not tried";
  }
  return "?";
}

}  // namespace

struct chained_token_credential::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor executor, std::vector<chain_source> sources, chain_options options)
      : strand(asio::make_strand(executor)),
        sources(std::move(sources)),
        options(std::move(options)) {}

  asio::strand<asio::any_io_executor> strand;
  std::vector<chain_source> sources;
  chain_options options;
  std::atomic<long> winner{-1};
  mutable std::mutex report_mutex;  // guards `report`; never held across co_await
  chain_report report;

  bool concurrent() const { return options.run_mode == chain_options::mode::concurrent; }

  void start(const std::shared_ptr<walk_state>& walk, std::size_t index, const token_request& req) {
    auto& slot = walk->slots[index];
    slot.status = source_status::running;
    slot.started = steady::now();
    auto credential = sources[index].credential;
    asio::co_spawn(strand, run_source(shared_from_this(), walk, index, credential, req),
                   asio::bind_cancellation_slot(slot.cancel.slot(), [](std::exception_ptr) {}));
  }

  // Runs one source and records its outcome; never throws.
  // `self` keeps the chain alive for sources that finish after the caller left.
  asio::awaitable<void> run_source(std::shared_ptr<impl> self, std::shared_ptr<walk_state> walk,
                                   std::size_t index, std::shared_ptr<token_credential> credential,
                                   token_request req) {
    (void)self;
    source_status outcome = source_status::failed;
    access_token token;
    std::exception_ptr failure;
    try {
      token = co_await credential->get_token(std::move(req));
      outcome = source_status::succeeded;
    } catch (...) {
      failure = std::current_exception();
      const auto code = code_of(failure);
      if (code == errc::credential_unavailable) {
        outcome = source_status::unavailable;
      } else if (code == asio::error::operation_aborted && walk->finished) {
        outcome = source_status::cancelled;
      }
    }
    auto& slot = walk->slots[index];
    slot.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - slot.started);
    if (walk->finished) {
      // A loser finishing after the verdict: only note it for the report.
      slot.status = outcome == source_status::succeeded ? source_status::cancelled : outcome;
      co_return;
    }
    slot.status = outcome;
    slot.token = std::move(token);
    slot.failure = failure;
    keyless::detail::log(log_level::verbose, "{}: {} {} after {} ms", options.name,
                         credential->name(), status_word(outcome), slot.elapsed.count());
    walk->wakeup.cancel();
  }

  // Starts whatever may run now: every source up to the deciding one in
  // sequential mode, all cheap sources (and costly ones once hedged) in
  // concurrent mode.
  void start_eligible(const std::shared_ptr<walk_state>& walk, const token_request& req) {
    const auto deciding = decide(*walk);
    for (std::size_t i = 0; i < walk->slots.size(); ++i) {
      if (walk->slots[i].status != source_status::not_started) continue;
      const bool ahead_done = deciding.kind == verdict_kind::wait && deciding.index == i;
      const bool allowed =
          concurrent() ? (!sources[i].costly || walk->hedge_expired || ahead_done) : ahead_done;
      if (allowed) start(walk, i, req);
    }
  }

  asio::awaitable<void> release_costly_after_hedge(std::shared_ptr<impl> self,
                                                   std::shared_ptr<walk_state> walk) {
    (void)self;
    walk->hedge.expires_after(options.hedge_delay);
    auto [ec] = co_await walk->hedge.async_wait(net::as_tuple(asio::use_awaitable));
    if (ec || walk->finished) co_return;
    walk->hedge_expired = true;
    walk->wakeup.cancel();
  }

  asio::awaitable<access_token> walk_chain(token_request req) {
    auto walk = std::make_shared<walk_state>(strand, sources.size());
    const bool any_costly =
        std::any_of(sources.begin(), sources.end(), [](auto& s) { return s.costly; });
    if (concurrent() && any_costly) {
      asio::co_spawn(strand, release_costly_after_hedge(shared_from_this(), walk), asio::detached);
    }
    verdict outcome;
    for (;;) {
      start_eligible(walk, req);
      outcome = decide(*walk);
      if (outcome.kind != verdict_kind::wait) break;
      // A source can finish inline while being started; then the next one may start now.
      if (walk->slots[outcome.index].status == source_status::not_started) continue;
      walk->wakeup.expires_at(steady::time_point::max());
      co_await walk->wakeup.async_wait(net::as_tuple(asio::use_awaitable));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        finish(*walk);
        throw std::system_error(asio::error::operation_aborted, options.name + " was cancelled");
      }
    }
    finish(*walk);
    record(*walk, outcome);
    switch (outcome.kind) {
      case verdict_kind::success:
        if (options.remember_winner) winner.store(static_cast<long>(outcome.index));
        co_return walk->slots[outcome.index].token;
      case verdict_kind::failure:
        throw stopped_error(*walk, outcome.index);
      default:
        throw unavailable_error(*walk);
    }
  }

  // Ends the walk: losers are cancelled (subprocesses killed, sockets closed).
  void finish(walk_state& walk) {
    walk.finished = true;
    walk.hedge.cancel();
    for (auto& slot : walk.slots) {
      if (slot.status == source_status::running)
        slot.cancel.emit(asio::cancellation_type::terminal);
    }
  }

  std::vector<source_attempt> attempts(const walk_state& walk) const {
    std::vector<source_attempt> out;
    for (std::size_t i = 0; i < walk.slots.size(); ++i) {
      const auto& slot = walk.slots[i];
      source_attempt a;
      a.source = std::string(sources[i].credential->name());
      a.elapsed = slot.elapsed;
      if (slot.failure) {
        a.code = code_of(slot.failure);
        a.message = describe(slot.failure);
      } else if (slot.status == source_status::succeeded) {
        a.message = "succeeded";
      } else {
        a.message = std::string(status_word(slot.status));
      }
      out.push_back(std::move(a));
    }
    return out;
  }

  void record(const walk_state& walk, verdict outcome) {
    chain_report next;
    if (outcome.kind == verdict_kind::success) {
      next.winner = std::string(sources[outcome.index].credential->name());
    }
    next.attempts = attempts(walk);
    std::lock_guard lock(report_mutex);
    report = std::move(next);
  }

  std::string attempt_lines(const walk_state& walk) const {
    std::string lines;
    for (std::size_t i = 0; i < walk.slots.size(); ++i) {
      const auto& slot = walk.slots[i];
      const bool ran = slot.status != source_status::not_started;
      lines += fmt::format("\n  {}: {}", sources[i].credential->name(), status_word(slot.status));
      if (ran) lines += fmt::format(" after {} ms", slot.elapsed.count());
      if (slot.failure) lines += fmt::format(": {}", describe(slot.failure));
    }
    return lines;
  }

  error stopped_error(const walk_state& walk, std::size_t index) const {
    const auto& slot = walk.slots[index];
    auto details = details_of(slot.failure);
    details.sources = attempts(walk);
    auto message = fmt::format(
        "{}: {} is configured but could not get a token, so the chain stopped there rather than "
        "fall back to a different identity.{}",
        options.name, sources[index].credential->name(), attempt_lines(walk));
    if (!details.hint.empty()) message += fmt::format("\nMost likely fix: {}", details.hint);
    return error(code_of(slot.failure), message, std::move(details));
  }

  error unavailable_error(const walk_state& walk) const {
    diagnostics details;
    details.sources = attempts(walk);
    for (const auto& slot : walk.slots) {
      if (!slot.failure) continue;
      if (auto hint = details_of(slot.failure).hint; !hint.empty()) {
        details.hint = std::move(hint);
        break;
      }
    }
    if (details.hint.empty()) details.hint = options.troubleshooting_hint;
    auto message = fmt::format("{}: no credential source could get a token.{}", options.name,
                               attempt_lines(walk));
    if (!details.hint.empty()) message += fmt::format("\nMost likely fix: {}", details.hint);
    return error(errc::credential_unavailable, message, std::move(details));
  }
};

chained_token_credential::chained_token_credential(asio::any_io_executor executor,
                                                   std::vector<chain_source> sources,
                                                   chain_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(sources), std::move(options))) {
  for (const auto& s : impl_->sources) {
    if (!s.credential)
      throw error(errc::invalid_argument, impl_->options.name + ": a source is null");
  }
}

chained_token_credential::~chained_token_credential() = default;

asio::any_io_executor chained_token_credential::get_executor() const {
  return impl_->strand;
}

std::string_view chained_token_credential::name() const noexcept {
  return impl_->options.name;
}

asio::awaitable<access_token> chained_token_credential::get_token(token_request req) {
  if (const auto w = impl_->winner.load(); w >= 0) {
    co_return co_await impl_->sources[static_cast<std::size_t>(w)].credential->get_token(
        std::move(req));
  }
  // The walk's state lives on the strand, whatever executor the caller runs on.
  auto self = impl_;  // the walk outlives nothing it does not own
  co_return co_await asio::co_spawn(self->strand, self->walk_chain(std::move(req)),
                                    asio::use_awaitable);
}

void chained_token_credential::forget_winner() noexcept {
  impl_->winner.store(-1);
}

chain_report chained_token_credential::last_report() const {
  std::lock_guard lock(impl_->report_mutex);
  return impl_->report;
}

}  // namespace keyless::identity
