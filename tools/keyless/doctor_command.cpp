#include "command_line.hpp"
#include "commands.hpp"

namespace keyless::cli {

// Placeholder until the subcommand lands.
int run_doctor(std::span<const std::string>) {
  throw usage_error("'doctor' is not implemented yet");
}

}  // namespace keyless::cli
