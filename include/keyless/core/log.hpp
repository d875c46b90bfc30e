#pragma once

#include <functional>
#include <string_view>

namespace keyless {

enum class log_level { verbose = 0, info = 1, warning = 2, error = 3 };

/// Receives keyless's log lines. Messages never contain tokens, secrets or keys.
/// The sink may be called from any thread that runs keyless operations.
using log_sink = std::function<void(log_level, std::string_view)>;

/// Installs `sink` for messages at `minimum` or above; an empty sink silences
/// keyless (the default). Safe to call at any time from any thread.
void set_log_sink(log_sink sink, log_level minimum = log_level::info);

}  // namespace keyless
