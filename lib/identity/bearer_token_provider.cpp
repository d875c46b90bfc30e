#include "keyless/identity/bearer_token_provider.hpp"

#include <utility>

#include "identity/token_cache_impl.hpp"
#include "keyless/core/error.hpp"

namespace keyless::identity {

class bearer_token_provider::state : public std::enable_shared_from_this<state> {
 public:
  std::shared_ptr<token_cache> cache;
  std::shared_ptr<token_cache::impl> impl;
  std::shared_ptr<detail::cache_entry> entry;
  token_request request;
};

namespace {

// The hot path takes a raw pointer: copying the shared_ptr here would bump one
// reference count shared by every thread on every call, the very contention
// the per-thread snapshots avoid. Ownership is taken only on a miss.
asio::awaitable<access_token> provider_get(bearer_token_provider::state* s,
                                           bearer_token_provider::duration min_valid_for) {
  if (auto t = s->entry->hit(min_valid_for)) co_return std::move(*t);
  auto self = s->shared_from_this();
  auto waiting = token_cache::impl::acquire(self->impl, self->entry, std::nullopt, min_valid_for);
  co_return co_await std::move(waiting);
}

}  // namespace

bearer_token_provider::bearer_token_provider(std::shared_ptr<token_credential> credential,
                                             token_request request) {
  if (!credential) {
    throw error(errc::invalid_argument,
                "bearer_token_provider needs a credential, got a null pointer");
  }
  if (request.claims) {
    throw error(errc::invalid_argument,
                "bearer_token_provider request must not carry claims; use get_with_claims");
  }
  auto cache = std::dynamic_pointer_cast<token_cache>(credential);
  if (!cache) cache = std::make_shared<token_cache>(std::move(credential));
  auto s = std::make_shared<state>();
  s->impl = cache->impl_;
  s->entry = s->impl->entry_for(request);
  s->request = s->entry->request();
  s->cache = std::move(cache);
  state_ = std::move(s);
}

asio::any_io_executor bearer_token_provider::get_executor() const {
  return state_->cache->get_executor();
}

const token_request& bearer_token_provider::request() const noexcept {
  return state_->request;
}

const std::shared_ptr<token_cache>& bearer_token_provider::cache() const noexcept {
  return state_->cache;
}

asio::awaitable<access_token> bearer_token_provider::operator()() const {
  return provider_get(state_.get(), duration::zero());
}

asio::awaitable<access_token> bearer_token_provider::get(duration min_valid_for) const {
  return provider_get(state_.get(), min_valid_for);
}

asio::awaitable<access_token> bearer_token_provider::get_owned(std::shared_ptr<state> s,
                                                               duration min_valid_for,
                                                               std::optional<std::string> claims) {
  auto waiting = token_cache::impl::acquire(s->impl, s->entry, std::move(claims), min_valid_for);
  co_return co_await std::move(waiting);
}

std::optional<access_token> bearer_token_provider::try_get() const noexcept {
  return state_->entry->hit(duration::zero());
}

bool bearer_token_provider::invalidate(const access_token& token) const noexcept {
  return state_->entry->invalidate(token);
}

}  // namespace keyless::identity
