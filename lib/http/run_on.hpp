#pragma once
// Runs a coroutine on a strand and resumes the caller on its own executor.

#include <exception>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/asio_compat.hpp"
#include "keyless/detail/co_spawn_on.hpp"

namespace keyless::http::detail {

/// A strand, type-erased. Over an io_context's own executor when the given one is that: a
/// strand of the concrete executor fits any_io_executor's inline storage, while a strand of an
/// any_io_executor does not, and every copy of it (Asio copies executors several times per
/// operation) would allocate.
using strand_type = asio::any_io_executor;

inline strand_type make_serial(const asio::any_io_executor& executor) {
  using plain = asio::io_context::executor_type;
  using tracked =
      decltype(asio::prefer(std::declval<plain>(), asio::execution::outstanding_work.tracked));
  if (const auto* io = executor.target<plain>()) return asio::make_strand(*io);
  if (const auto* io = executor.target<tracked>()) return asio::make_strand(*io);
  return asio::make_strand(executor);
}

/// co_awaits `op` running on `strand`. The caller's cancellation reaches `op` on the strand
/// (keyless::detail::co_spawn_on): Asio 1.22's co_spawn would emit it on whatever thread the
/// caller's signal fires on, racing with `op` on a multi-threaded io_context. A caller whose
/// slot is not connected pays nothing for that.
template <typename T>
asio::awaitable<T> run_on(strand_type strand, asio::awaitable<T> op) {
  auto token = net::as_tuple(asio::use_awaitable);
  if constexpr (std::is_void_v<T>) {
    auto [failure] = co_await keyless::detail::co_spawn_on(strand, std::move(op), token);
    if (failure) std::rethrow_exception(failure);
  } else {
    auto [failure, value] = co_await keyless::detail::co_spawn_on(strand, std::move(op), token);
    if (failure) std::rethrow_exception(failure);
    co_return std::move(value);
  }
}

}  // namespace keyless::http::detail
