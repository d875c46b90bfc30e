#pragma once
// The only file that knows which Asio version spells what. Asio 1.22 (Debian
// bookworm) has as_tuple/deferred/parallel_group/channel only under
// experimental::; Asio 1.28+ moved as_tuple and deferred into asio::, and 1.33
// removed the experimental spellings.

#include <asio/version.hpp>

#if ASIO_VERSION >= 102800
#include <asio/as_tuple.hpp>
#include <asio/deferred.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#endif
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/use_awaitable.hpp>

namespace keyless::net {

#if ASIO_VERSION >= 102800
using asio::as_tuple;
using asio::as_tuple_t;
inline constexpr auto& deferred = asio::deferred;
#else
using asio::experimental::as_tuple;
using asio::experimental::as_tuple_t;
inline constexpr auto& deferred = asio::experimental::deferred;
#endif

/// Completion token for `auto [ec, ...] = co_await op(use_tuple)`: errors as values, no throw.
inline constexpr auto use_tuple = as_tuple(asio::use_awaitable);

/// `co_await (a || b)` and `co_await (a && b)` on awaitables.
namespace awaitable_operators = asio::experimental::awaitable_operators;

/// Typed channel for internal fan-in between coroutines.
template <typename Executor, typename... Signatures>
using basic_channel = asio::experimental::channel<Executor, Signatures...>;

}  // namespace keyless::net
