#include "keyless/identity/chained_token_credential.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
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
  bool presence_unknown = false;  // chain_source::presence_unknown
  bool passed_over = false;       // silent when a source behind it had a token
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

// The first source (in priority order) that is not unavailable decides the walk,
// except that a still-silent source whose presence is unknown does not hold back a
// token that a source behind it already has.
verdict decide(const walk_state& walk, std::size_t from = 0) {
  for (std::size_t i = from; i < walk.slots.size(); ++i) {
    const auto& slot = walk.slots[i];
    switch (slot.status) {
      case source_status::unavailable:
        continue;
      case source_status::succeeded:
        return {verdict_kind::success, i};
      case source_status::failed:
        return {verdict_kind::failure, i};
      default:
        if (slot.status == source_status::running && slot.presence_unknown) {
          if (auto behind = decide(walk, i + 1); behind.kind == verdict_kind::success) {
            return behind;
          }
        }
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

// Requests that may share one walk: everything a source sees. Lengths keep
// {"a,b"} and {"a","b"} apart.
std::string walk_key(const token_request& req) {
  std::string key;
  auto add = [&key](char tag, std::string_view part) {
    key += fmt::format("{}{}:", tag, part.size());
    key += part;
  };
  for (const auto& scope : req.scopes) add('s', scope);
  if (req.tenant) add('t', *req.tenant);
  if (req.claims) add('c', *req.claims);
  key += req.enable_cae ? "e1" : "e0";
  return key;
}

// A caller waiting for a shared walk, with its completion handler type-erased.
struct chain_waiter {
  virtual ~chain_waiter() = default;
  virtual void complete(std::exception_ptr failure, access_token token) = 0;
};

template <typename Handler>
struct typed_chain_waiter final : chain_waiter {
  using executor = asio::associated_executor_t<Handler, asio::any_io_executor>;

  typed_chain_waiter(Handler&& h, const asio::any_io_executor& fallback)
      : work(asio::get_associated_executor(h, fallback)), handler(std::move(h)) {}

  void complete(std::exception_ptr failure, access_token token) override {
    // Post, never dispatch: this runs on the chain's strand, and the caller resumes on
    // its own executor without holding the strand.
    auto ex = work.get_executor();
    asio::post(ex, [h = std::move(handler), failure = std::move(failure),
                    token = std::move(token)]() mutable {
      std::move(h)(std::move(failure), std::move(token));
    });
    work.reset();
  }

  // Keeps the caller's execution context alive while the walk runs elsewhere.
  asio::executor_work_guard<executor> work;
  Handler handler;
};

struct shared_walk;

// One caller's membership in a shared walk. `waiter` is set before the strand first
// sees the membership and afterwards touched only on the strand; null means the
// caller has been completed (by the walk or by its own cancellation).
struct membership {
  std::unique_ptr<chain_waiter> waiter;
  std::weak_ptr<shared_walk> walk;  // weak: the walk owns its members
};

// A walk that concurrent callers with the same request share.
struct shared_walk {
  std::string key;
  std::vector<std::shared_ptr<membership>> members;
  std::size_t waiting = 0;           // members not yet completed
  asio::cancellation_signal cancel;  // cancels the walk once nobody waits for it
  bool done = false;
};

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
  // Walks in progress by request; strand only.
  std::unordered_map<std::string, std::shared_ptr<shared_walk>> walks;

  // Concurrent callers with the same request share one walk, so N first callers cost
  // one az spawn and one IMDS probe, not N. A caller that is cancelled only stops
  // waiting; the walk is cancelled (and its sources with it) when nobody waits.
  template <typename CompletionToken>
  auto async_join(token_request req, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, access_token)>(
        [self = shared_from_this()](auto handler, token_request req) {
          using handler_type = std::decay_t<decltype(handler)>;
          auto cancel_slot = asio::get_associated_cancellation_slot(handler);
          auto member = std::make_shared<membership>();
          member->waiter = std::make_unique<typed_chain_waiter<handler_type>>(
              std::move(handler), self->strand.get_inner_executor());
          if (cancel_slot.is_connected()) {
            // Runs on whatever thread cancels the caller: it only asks the strand.
            cancel_slot.assign([weak_member = std::weak_ptr<membership>(member),
                                weak_self = std::weak_ptr<impl>(self)](asio::cancellation_type t) {
              if (t == asio::cancellation_type::none) return;
              auto chain = weak_self.lock();
              if (!chain) return;
              asio::dispatch(chain->strand, [weak_member, chain] {
                if (auto m = weak_member.lock()) chain->leave(*m);
              });
            });
          }
          auto strand = self->strand;
          asio::dispatch(strand, [self = std::move(self), member = std::move(member),
                                  req = std::move(req)]() mutable {
            self->join(std::move(req), std::move(member));
          });
        },
        token, std::move(req));
  }

  void join(token_request req, std::shared_ptr<membership> member) {
    if (!member->waiter) return;  // cancelled before it reached the strand
    auto key = walk_key(req);
    auto& entry = walks[key];
    const bool start_walk = !entry;
    if (start_walk) {
      entry = std::make_shared<shared_walk>();
      entry->key = std::move(key);
    }
    auto walk = entry;
    member->walk = walk;
    walk->members.push_back(std::move(member));
    ++walk->waiting;
    // Last: the walk may finish inline when every source answers without waiting.
    if (start_walk) {
      asio::co_spawn(strand, run_walk(shared_from_this(), walk, std::move(req)),
                     asio::bind_cancellation_slot(walk->cancel.slot(), asio::detached));
    }
  }

  // A caller was cancelled: it stops waiting; the last one out cancels the walk.
  void leave(membership& member) {
    if (!member.waiter) return;  // the walk completed it first
    auto waiter = std::move(member.waiter);
    if (auto walk = member.walk.lock(); walk && !walk->done && --walk->waiting == 0) {
      forget(*walk);  // a caller arriving now starts afresh
      walk->cancel.emit(asio::cancellation_type::terminal);
    }
    waiter->complete(std::make_exception_ptr(std::system_error(asio::error::operation_aborted,
                                                               options.name + " was cancelled")),
                     access_token{});
  }

  void forget(const shared_walk& walk) {
    if (auto it = walks.find(walk.key); it != walks.end() && it->second.get() == &walk) {
      walks.erase(it);
    }
  }

  // If the execution context is destroyed with the walk pending, its frame goes
  // without completing: release the waiters without completion (as Asio does with
  // its own pending handlers), which also breaks ownership cycles through them.
  struct abandon_guard {
    impl& chain;
    shared_walk& walk;
    ~abandon_guard() {
      if (walk.done) return;
      walk.done = true;
      chain.forget(walk);
      for (auto& m : walk.members) m->waiter.reset();
    }
  };

  asio::awaitable<void> run_walk(std::shared_ptr<impl> self, std::shared_ptr<shared_walk> walk,
                                 token_request req) {
    (void)self;
    abandon_guard guard{*this, *walk};
    std::exception_ptr failure;
    access_token token;
    try {
      token = co_await walk_chain(std::move(req));
    } catch (...) {
      failure = std::current_exception();
    }
    walk->done = true;
    forget(*walk);
    for (auto& m : walk->members) {
      if (!m->waiter) continue;
      auto waiter = std::move(m->waiter);
      waiter->complete(failure, token);
    }
  }

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
    for (std::size_t i = 0; i < sources.size(); ++i) {
      walk->slots[i].presence_unknown = sources[i].presence_unknown;
    }
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
      // Checked before waiting too: a cancellation that came while the walk was
      // starting sources has no wait to interrupt.
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() == asio::cancellation_type::none) {
        walk->wakeup.expires_at(steady::time_point::max());
        co_await walk->wakeup.async_wait(net::as_tuple(asio::use_awaitable));
      }
      if (state.cancelled() != asio::cancellation_type::none) {
        finish(*walk);
        throw std::system_error(asio::error::operation_aborted, options.name + " was cancelled");
      }
    }
    if (outcome.kind == verdict_kind::success) pass_over_silent_sources(*walk, outcome.index);
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

  // Sources ahead of the winner that never answered: taken as absent (and cancelled).
  void pass_over_silent_sources(walk_state& walk, std::size_t winner_index) {
    const auto now = steady::now();
    for (std::size_t i = 0; i < winner_index; ++i) {
      auto& slot = walk.slots[i];
      if (slot.status != source_status::running) continue;
      slot.passed_over = true;
      slot.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - slot.started);
      keyless::detail::log(log_level::verbose,
                           "{}: {} had not answered after {} ms; taken as absent", options.name,
                           sources[i].credential->name(), slot.elapsed.count());
    }
  }

  std::string passed_over_reason(const walk_state& walk, std::size_t index) const {
    const auto verdict = decide(walk);
    const auto winner = verdict.kind == verdict_kind::success
                            ? std::string(sources[verdict.index].credential->name())
                            : std::string("a source behind it");
    return fmt::format("no answer after {} ms; taken as absent once {} had a token",
                       walk.slots[index].elapsed.count(), winner);
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
      if (slot.passed_over) {
        a.code = errc::credential_unavailable;
        a.message = passed_over_reason(walk, i);
      } else if (slot.failure) {
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
      if (slot.passed_over) {
        lines +=
            fmt::format("\n  {}: {}", sources[i].credential->name(), passed_over_reason(walk, i));
        continue;
      }
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
  co_return co_await impl_->async_join(std::move(req), asio::use_awaitable);
}

void chained_token_credential::forget_winner() noexcept {
  impl_->winner.store(-1);
}

chain_report chained_token_credential::last_report() const {
  std::lock_guard lock(impl_->report_mutex);
  return impl_->report;
}

}  // namespace keyless::identity
