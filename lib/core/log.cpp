#include "core/logging.hpp"

#include <atomic>
#include <memory>

namespace keyless {
namespace {

struct sink_state {
  log_sink sink;
  log_level minimum;
};

// Read on every log call from any thread; replaced rarely. A shared_ptr swapped
// atomically keeps readers lock-free of each other.
std::shared_ptr<const sink_state> current_sink;  // NOLINT: process-wide by design, like the peers

}  // namespace

void set_log_sink(log_sink sink, log_level minimum) {
  auto next = sink ? std::make_shared<const sink_state>(sink_state{std::move(sink), minimum})
                   : std::shared_ptr<const sink_state>{};
  std::atomic_store(&current_sink, std::move(next));
}

namespace detail {

bool log_enabled(log_level level) noexcept {
  auto state = std::atomic_load(&current_sink);
  return state && level >= state->minimum;
}

void log_write(log_level level, std::string_view message) {
  if (auto state = std::atomic_load(&current_sink); state && level >= state->minimum) {
    state->sink(level, message);
  }
}

}  // namespace detail
}  // namespace keyless
