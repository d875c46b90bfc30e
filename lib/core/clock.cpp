#include "keyless/core/clock.hpp"

namespace keyless {
namespace {

class system_clock_source final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::system_clock::now(); }
};

}  // namespace

std::shared_ptr<const clock> clock::system() {
  static const auto instance = std::make_shared<const system_clock_source>();
  return instance;
}

}  // namespace keyless
