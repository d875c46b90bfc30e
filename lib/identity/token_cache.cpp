#include "keyless/identity/token_cache.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <functional>
#include <random>
#include <utility>

#include <fmt/format.h>
#include <asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "identity/token_cache_impl.hpp"
#include "keyless/core/error.hpp"

namespace keyless::identity {

namespace detail {

// Gives the cache per-thread copies of a token: same bytes, same shared buffer,
// but a reference count of their own, so copying the per-thread copy on every
// hit never touches a counter another thread also writes.
struct access_token_access {
  static access_token thread_copy(const access_token& t) {
    access_token copy = t;
    if (t.bytes_) {
      copy.bytes_ = std::shared_ptr<const std::string>(t.bytes_.get(),
                                                       [keep = t.bytes_](const std::string*) {});
    }
    return copy;
  }
};

}  // namespace detail

namespace {

using detail::duration;
using detail::time_point;

// Direct-mapped per-thread slots, indexed by entry id. A thread that uses more
// entries than this at once only pays a refill on a collision.
constexpr std::size_t tls_slot_count = 16;

std::atomic<std::uint64_t> next_entry_id{1};

time_point coarse_now() noexcept {
#ifdef CLOCK_REALTIME_COARSE
  // The hit path reads the time on every call. CLOCK_REALTIME costs ~35 ns on
  // virtualised hosts, the coarse clock ~6 ns; its few milliseconds of
  // resolution are nothing next to the 30 s expiry skew.
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return time_point(std::chrono::duration_cast<duration>(std::chrono::seconds(ts.tv_sec) +
                                                         std::chrono::nanoseconds(ts.tv_nsec)));
#else
  return std::chrono::system_clock::now();
#endif
}

std::exception_ptr make_error(errc code, const std::string& message, diagnostics d = {}) {
  return std::make_exception_ptr(error(code, message, std::move(d)));
}

long long whole_seconds(duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// Whether a token usable until `until` still is `min_valid` after `now`; written
// so that a huge min_valid (duration::max()) cannot overflow.
bool lasts(time_point now, time_point until, duration min_valid) noexcept {
  return now < until && until - now > min_valid;
}

asio::awaitable<detail::fetch_result> ready(detail::fetch_result r) {
  co_return r;
}

asio::awaitable<detail::fetch_result> fail(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
  co_return detail::fetch_result{};
}

template <typename T>
void hash_combine(std::size_t& seed, const T& v) {
  seed ^= std::hash<T>{}(v) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

}  // namespace

namespace detail {

std::size_t cache_key_hash::operator()(const cache_key& k) const noexcept {
  std::size_t seed = k.scopes.size();
  for (const auto& s : k.scopes) hash_combine(seed, s);
  hash_combine(seed, k.tenant.has_value());
  if (k.tenant) hash_combine(seed, *k.tenant);
  hash_combine(seed, k.enable_cae);
  return seed;
}

std::size_t flight_key_hash::operator()(const flight_key& k) const noexcept {
  std::size_t seed = std::hash<std::uint64_t>{}(k.entry);
  if (k.claims) hash_combine(seed, *k.claims);
  return seed;
}

struct tls_slot {
  std::uint64_t entry = 0;  // ids start at 1: 0 never matches
  std::uint64_t generation = 0;
  access_token token;  // per-thread reference count (access_token_access::thread_copy)
  time_point usable_until = time_point::min();
  time_point refresh_at = time_point::max();
};

namespace {

struct tls_table {
  std::array<tls_slot, tls_slot_count> slots;
};

// The hit path reads only this trivially destructible pointer, so it pays no
// thread_local initialisation guard; `tls_holder` owns the table and frees it
// (with the per-thread token copies) when the thread exits.
thread_local tls_table* tls_fast = nullptr;

struct tls_owner {
  std::unique_ptr<tls_table> table;
  ~tls_owner() { tls_fast = nullptr; }
};
thread_local tls_owner tls_holder;

tls_table* make_tls_table() noexcept {
  try {
    tls_holder.table = std::make_unique<tls_table>();
    tls_fast = tls_holder.table.get();
    return tls_fast;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

cache_entry::cache_entry(std::uint64_t id, token_request request, token_cache::impl& owner,
                         std::shared_ptr<const keyless::clock> clock)
    : id_(id),
      system_clock_(clock == keyless::clock::system()),
      clock_(clock.get()),
      owner_(&owner),
      clock_owner_(std::move(clock)),
      request_(std::move(request)) {}

time_point cache_entry::now() const noexcept {
  return system_clock_ ? coarse_now() : clock_->now();
}

std::optional<access_token> cache_entry::hit(duration min_valid) noexcept {
  tls_table* table = tls_fast;
  if (!table) [[unlikely]] {
    table = make_tls_table();
    if (!table) return std::nullopt;
  }
  tls_slot& slot = table->slots[id_ % tls_slot_count];
  const auto generation = generation_.load(std::memory_order_acquire);
  if (slot.entry != id_ || slot.generation != generation) [[unlikely]] {
    if (!refill(slot)) return std::nullopt;
  }
  const auto now = this->now();
  if (!lasts(now, slot.usable_until, min_valid)) return std::nullopt;
  if (now >= slot.refresh_at) [[unlikely]]
    maybe_start_background(now);
  return slot.token;
}

bool cache_entry::refill(tls_slot& slot) noexcept {
  slot.entry = 0;  // stays unmatched if anything below throws
  try {
    std::shared_ptr<const snapshot> snap;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(mutex_);
      snap = current_;
      generation = generation_.load(std::memory_order_relaxed);
    }
    if (snap) {
      slot.token = access_token_access::thread_copy(snap->token);
      slot.usable_until = snap->usable_until;
      slot.refresh_at = snap->refresh_at;
    } else {
      slot.token = access_token{};
      slot.usable_until = time_point::min();
      slot.refresh_at = time_point::max();
    }
    slot.generation = generation;
    slot.entry = id_;
    return true;
  } catch (...) {
    return false;
  }
}

void cache_entry::maybe_start_background(time_point now) noexcept {
  auto next = next_background_at_.load(std::memory_order_relaxed);
  if (now.time_since_epoch().count() < next) return;
  // Exactly one hit wins the exchange and starts the refresh; the new value also
  // throttles the next attempt should this one fail or be lost.
  const auto retry =
      std::chrono::duration_cast<duration>(owner_->options().background_retry_interval);
  if (!next_background_at_.compare_exchange_strong(next, (now + retry).time_since_epoch().count(),
                                                   std::memory_order_relaxed)) {
    return;
  }
  try {
    owner_->start_background(*this);
  } catch (...) {
    // Out of memory: let a later hit try again instead of losing the refresh.
    next_background_at_.store(next, std::memory_order_relaxed);
  }
}

std::shared_ptr<const snapshot> cache_entry::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void cache_entry::publish(std::shared_ptr<const snapshot> s, time_point next_background) {
  std::shared_ptr<const snapshot> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(current_, std::move(s));
    next_background_at_.store(next_background.time_since_epoch().count(),
                              std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
}

bool cache_entry::invalidate(const access_token& token) noexcept {
  if (token.empty()) return false;
  std::shared_ptr<const snapshot> old;
  {
    std::lock_guard lock(mutex_);
    if (!current_ || !(current_->token == token)) return false;
    old = std::move(current_);
    current_.reset();
    generation_.fetch_add(1, std::memory_order_release);
  }
  return true;
}

void cache_entry::defer_background(time_point next) noexcept {
  next_background_at_.store(next.time_since_epoch().count(), std::memory_order_relaxed);
}

}  // namespace detail

// ---------------------------------------------------------------------------

namespace {

token_cache_options with_defaults(token_cache_options o) {
  if (!o.clock) o.clock = keyless::clock::system();
  if (!o.random) {
    o.random = [engine = std::minstd_rand(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
  }
  auto negative = [](auto d) {
    return d < decltype(d)::zero();
  };
  if (negative(o.expiry_skew) || negative(o.refresh_before_expiry) ||
      negative(o.max_refresh_jitter) || negative(o.background_retry_interval) ||
      negative(o.failure_backoff) || negative(o.max_failure_backoff)) {
    throw error(errc::invalid_argument, "token_cache_options: durations must not be negative");
  }
  if (o.max_failure_backoff < o.failure_backoff) o.max_failure_backoff = o.failure_backoff;
  return o;
}

std::shared_ptr<token_credential> non_null(std::shared_ptr<token_credential> c) {
  if (!c) throw error(errc::invalid_argument, "token_cache needs a credential, got a null pointer");
  return c;
}

detail::cache_key normalise(const token_request& req) {
  detail::cache_key key;
  key.scopes = req.scopes;
  std::sort(key.scopes.begin(), key.scopes.end());
  key.scopes.erase(std::unique(key.scopes.begin(), key.scopes.end()), key.scopes.end());
  if (key.scopes.empty()) {
    throw error(
        errc::invalid_argument,
        "token request has no scopes; pass e.g. \"https://cognitiveservices.azure.com/.default\"");
  }
  if (key.scopes.front().empty())
    throw error(errc::invalid_argument, "token request has an empty scope");
  key.tenant = req.tenant;
  key.enable_cae = req.enable_cae;
  return key;
}

}  // namespace

token_cache::impl::impl(std::shared_ptr<token_credential> credential, token_cache_options options)
    : credential_(non_null(std::move(credential))),
      options_(with_defaults(std::move(options))),
      strand_(asio::make_strand(credential_->get_executor())),
      flights_(strand_) {}

std::shared_ptr<detail::cache_entry> token_cache::impl::entry_for(const token_request& req) {
  auto key = normalise(req);
  std::lock_guard lock(entries_mutex_);
  auto& slot = entries_[key];
  if (!slot) {
    token_request normalised{key.scopes, key.tenant, std::nullopt, key.enable_cae};
    slot =
        std::make_shared<detail::cache_entry>(next_entry_id.fetch_add(1, std::memory_order_relaxed),
                                              std::move(normalised), *this, options_.clock);
  }
  return slot;
}

asio::awaitable<access_token> token_cache::impl::acquire(std::shared_ptr<impl> self,
                                                         std::shared_ptr<detail::cache_entry> e,
                                                         std::optional<std::string> claims,
                                                         duration min_valid) {
  if (min_valid < duration::zero()) min_valid = duration::zero();
  // A waiter may join a flight started for a smaller min_valid that returned
  // the cached token; it then tries again, and a real fetch settles it.
  for (int attempt = 0;; ++attempt) {
    if (!claims) {
      if (auto t = e->hit(min_valid)) co_return std::move(*t);
    }
    auto make = [self, e, claims, min_valid] {
      return self->make_producer(e, claims, min_valid, detail::fetch_kind::foreground);
    };
    // Built outside the co_await operand: g++ 12 destroys temporaries that own
    // memory twice when they appear inside one.
    auto run = self->flights_.async_run(detail::flight_key{e->id(), claims}, std::move(make),
                                        asio::use_awaitable);
    detail::fetch_result r = co_await std::move(run);
    const auto now = self->options_.clock->now();
    if (claims || lasts(now, r.usable_until, min_valid)) co_return std::move(r.token);
    if (r.fresh || attempt >= 2) {
      throw error(
          errc::invalid_argument,
          fmt::format("asked for a token valid for at least {} s, but {} issued one valid for "
                      "only {} s more (after the {} s expiry skew)",
                      whole_seconds(min_valid), self->credential_->name(),
                      whole_seconds(r.usable_until - now), self->options_.expiry_skew.count()));
    }
  }
}

void token_cache::impl::start_background(detail::cache_entry& e) {
  auto self = shared_from_this();
  auto entry = e.shared_from_this();
  auto make = [self, entry] {
    return self->make_producer(entry, std::nullopt, duration::zero(),
                               detail::fetch_kind::background);
  };
  // Nobody waits for a background refresh: its outcome is published (or logged)
  // by the producer itself.
  flights_.async_run(detail::flight_key{e.id(), std::nullopt}, std::move(make),
                     [](std::exception_ptr, detail::fetch_result) {});
}

asio::awaitable<detail::fetch_result> token_cache::impl::make_producer(
    std::shared_ptr<detail::cache_entry> e, std::optional<std::string> claims, duration min_valid,
    detail::fetch_kind kind) {
  const auto now = options_.clock->now();
  if (!claims) {
    // Re-check on the strand: a flight may have published between the caller's
    // miss and now, and a second fetch would be wasted.
    if (auto cur = e->current()) {
      const bool enough = kind == detail::fetch_kind::background
                              ? now < cur->refresh_at
                              : lasts(now, cur->usable_until, min_valid);
      if (enough) return ready({cur->token, cur->usable_until, false});
    }
  }
  if (kind == detail::fetch_kind::foreground && now < e->backoff_until) {
    return fail(throttled_error(*e, now));
  }
  token_request req = e->request();
  req.claims = std::move(claims);
  return fetch(shared_from_this(), std::move(e), std::move(req), kind);
}

asio::awaitable<detail::fetch_result> token_cache::impl::fetch(
    std::shared_ptr<impl> self, std::shared_ptr<detail::cache_entry> e, token_request req,
    detail::fetch_kind kind) {
  self->fetches_.fetch_add(1, std::memory_order_relaxed);
  access_token token;
  std::exception_ptr failure;
  try {
    auto op = self->credential_->async_get_token(std::move(req), asio::use_awaitable);
    token = co_await std::move(op);
  } catch (...) {
    failure = std::current_exception();
  }
  // Back on the strand.
  const auto now = self->options_.clock->now();
  if (!failure) failure = self->check_token(token, now);
  if (failure) {
    self->on_failure(*e, kind, failure, now);
    std::rethrow_exception(failure);
  }
  auto snap = self->make_snapshot(std::move(token), now);
  // A token too short-lived to have a refresh window would otherwise be
  // refreshed on every hit; the retry interval bounds that to one per interval.
  const auto next_background =
      std::max(snap->refresh_at, now + self->options_.background_retry_interval);
  e->publish(snap, next_background);
  e->backoff_step = duration::zero();
  e->backoff_until = time_point{};
  e->last_error = nullptr;
  co_return detail::fetch_result{snap->token, snap->usable_until, true};
}

std::exception_ptr token_cache::impl::check_token(const access_token& t, time_point now) const {
  if (t.empty()) {
    return make_error(errc::malformed_response,
                      fmt::format("{} returned an empty access token", credential_->name()));
  }
  if (t.expires_on() - options_.expiry_skew <= now) {
    return make_error(
        errc::malformed_response,
        fmt::format("{} returned a token that expires in {} s, within the {} s expiry skew",
                    credential_->name(), whole_seconds(t.expires_on() - now),
                    options_.expiry_skew.count()));
  }
  return nullptr;
}

std::shared_ptr<const detail::snapshot> token_cache::impl::make_snapshot(access_token t,
                                                                         time_point now) {
  auto s = std::make_shared<detail::snapshot>();
  s->usable_until = t.expires_on() - options_.expiry_skew;
  const auto base = t.refresh_on() < t.expires_on()
                        ? t.refresh_on()
                        : t.expires_on() - options_.refresh_before_expiry;
  double r = options_.random();
  if (!(r >= 0.0)) r = 0.0;  // also NaN
  if (r > 1.0) r = 1.0;
  const duration max_jitter = options_.max_refresh_jitter;
  const auto jitter = std::chrono::duration_cast<duration>(
      std::chrono::duration<double, duration::period>(static_cast<double>(max_jitter.count()) * r));
  // Never before the token arrived, never after it stops being usable.
  s->refresh_at = std::clamp(base - jitter, now, s->usable_until);
  s->token = std::move(t);
  return s;
}

void token_cache::impl::on_failure(detail::cache_entry& e, detail::fetch_kind kind,
                                   const std::exception_ptr& failure, time_point now) {
  const auto info = inspect(failure);
  if (kind == detail::fetch_kind::background) {
    if (auto cur = e.current(); cur && now < cur->usable_until) {
      // Callers keep the valid token; the error only goes to the log.
      e.defer_background(now + options_.background_retry_interval);
      keyless::detail::log(
          log_level::warning,
          "background token refresh through {} failed; keeping the cached token for {} s more "
          "and retrying in {} s: {}",
          credential_->name(), whole_seconds(cur->usable_until - now),
          options_.background_retry_interval.count(), info.message);
      return;
    }
  }
  const duration first = options_.failure_backoff;
  const duration most = options_.max_failure_backoff;
  e.backoff_step = e.backoff_step == duration::zero() ? first : std::min(e.backoff_step * 2, most);
  e.backoff_until = now + e.backoff_step;
  e.last_error = failure;
  keyless::detail::log(
      log_level::warning, "token request through {} failed; pausing requests for {} ms: {}",
      credential_->name(),
      std::chrono::duration_cast<std::chrono::milliseconds>(e.backoff_step).count(), info.message);
}

std::exception_ptr token_cache::impl::throttled_error(const detail::cache_entry& e,
                                                      time_point now) const {
  auto info = inspect(e.last_error);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(e.backoff_until - now);
  diagnostics d = std::move(info.details);
  d.retry_after = wait;
  return make_error(
      errc::throttled,
      fmt::format("not asking {} for a token for another {} ms because the last attempt "
                  "failed: {}",
                  credential_->name(), wait.count(), info.message),
      std::move(d));
}

// ---------------------------------------------------------------------------

token_cache::token_cache(std::shared_ptr<token_credential> credential, token_cache_options options)
    : impl_(std::make_shared<impl>(std::move(credential), std::move(options))) {}

token_cache::~token_cache() = default;

asio::any_io_executor token_cache::get_executor() const {
  return impl_->credential().get_executor();
}

std::string_view token_cache::name() const noexcept {
  return impl_->credential().name();
}

asio::awaitable<access_token> token_cache::get_token(token_request req) {
  auto self = impl_;
  auto entry = self->entry_for(req);
  auto waiting = impl::acquire(std::move(self), std::move(entry), std::move(req.claims),
                               detail::duration::zero());
  co_return co_await std::move(waiting);
}

std::optional<access_token> token_cache::try_get(const token_request& req) const {
  return impl_->entry_for(req)->hit(detail::duration::zero());
}

bool token_cache::invalidate(const token_request& req, const access_token& token) {
  return impl_->entry_for(req)->invalidate(token);
}

const token_cache_options& token_cache::options() const noexcept {
  return impl_->options();
}

}  // namespace keyless::identity
