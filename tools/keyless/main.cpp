// keyless: tokens, chat, diagnosis and load generation for Azure OpenAI with Microsoft Entra ID.

#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_line.hpp"
#include "commands.hpp"

namespace {

struct subcommand {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::span<const std::string>);
};

constexpr subcommand subcommands[] = {
    {"token", "print an access token in the shape of `az account get-access-token`",
     keyless::cli::run_token},
    {"chat", "send a chat request to Azure OpenAI (keyless by default)", keyless::cli::run_chat},
    {"doctor", "explain which identity is used and why a request gets 401 or 403",
     keyless::cli::run_doctor},
    {"bench", "measure throughput and the cost of tokens against an endpoint",
     keyless::cli::run_bench},
};

void print_help(std::FILE* out) {
  std::fprintf(out,
               "usage: keyless <command> [options]\n\n"
               "Microsoft Entra ID tokens for Azure OpenAI, without API keys.\n\ncommands:\n");
  for (const auto& c : subcommands) {
    std::fprintf(out, "  %-8.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "\n`keyless <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (args.empty()) {
    print_help(stderr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(stdout);
    return 0;
  }
  for (const auto& c : subcommands) {
    if (args[0] != c.name) continue;
    try {
      return c.run(std::span(args).subspan(1));
    } catch (const keyless::cli::usage_error& e) {
      std::fprintf(stderr, "keyless %s: %s\n(see `keyless %s --help`)\n", args[0].c_str(), e.what(),
                   args[0].c_str());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "keyless %s: %s\n", args[0].c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "keyless: unknown command '%s'\n\n", args[0].c_str());
  print_help(stderr);
  return 2;
}
