#pragma once
// The keyless command's subcommands. Each takes the arguments after its name and returns the
// process exit status (0 success, 1 failure, 2 bad usage); each prints its own --help.

#include <span>
#include <string>

namespace keyless::cli {

int run_token(std::span<const std::string> arguments);
int run_chat(std::span<const std::string> arguments);
int run_doctor(std::span<const std::string> arguments);
int run_bench(std::span<const std::string> arguments);

}  // namespace keyless::cli
