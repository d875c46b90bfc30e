#include "emulator_options.hpp"

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "command_line.hpp"

namespace keyless::emulator {
namespace {

using cli::usage_error;

constexpr cli::option_spec option_specs[] = {
    {"identity", "MODE", "app-service (default), imds or service-principal"},
    {"openai-port", "PORT", "port of the fake Azure OpenAI (default: any free port)"},
    {"identity-port", "PORT", "port of the fake managed identity endpoint (default: any)"},
    {"entra-port", "PORT", "port of the fake Microsoft Entra ID (default: any)"},
    {"deployment", "NAME", "the deployment that exists (default: gpt-4o-mini)"},
    {"reply", "TEXT", "what the assistant answers"},
    {"api-key", "KEY", "the resource key the fake accepts (default: a random one)"},
    {"dir", "DIR", "where ca.pem, trust.pem and env.sh go (default: a new one in $TMPDIR)"},
    {"env-file", "PATH", "where to write the environment file (default: DIR/env.sh)"},
    {"pitfall", "NAME[=N]", "reproduce a pitfall (repeatable, or comma-separated; see below)"},
};

std::uint16_t port_of(const cli::parsed_arguments& parsed, std::string_view name) {
  return static_cast<std::uint16_t>(parsed.number(name, 0, 65535).value_or(0));
}

long long pitfall_number(std::string_view name, std::string_view text, long long fallback,
                         long long min, long long max) {
  if (text.empty()) return fallback;
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value < min || value > max) {
    throw usage_error(fmt::format("--pitfall {} takes a whole number from {} to {}, not '{}'", name,
                                  min, max, text));
  }
  return value;
}

void add_pitfall(pitfalls& p, std::string_view item) {
  const auto equals = item.find('=');
  const std::string_view name = item.substr(0, equals);
  const bool has_value = equals != std::string_view::npos;
  const std::string_view value = has_value ? item.substr(equals + 1) : std::string_view{};
  if (has_value && value.empty()) {
    throw usage_error(fmt::format("--pitfall {}= needs a value after '='", name));
  }
  auto no_value = [&] {
    if (has_value) throw usage_error(fmt::format("--pitfall {} takes no value", name));
  };
  if (name == "wrong-audience") {
    no_value();
    p.wrong_audience = true;
  } else if (name == "missing-role") {
    p.missing_role = std::chrono::seconds(pitfall_number(name, value, 30, 0, 86400));
  } else if (name == "throttle") {
    p.throttle = static_cast<std::size_t>(pitfall_number(name, value, 3, 1, 1000000));
  } else if (name == "server-error") {
    p.server_error = static_cast<std::size_t>(pitfall_number(name, value, 3, 1, 1000000));
  } else if (name == "no-identity") {
    no_value();
    p.no_identity = true;
  } else if (name == "slow-identity") {
    p.slow_identity = std::chrono::milliseconds(pitfall_number(name, value, 2000, 1, 600000));
  } else {
    throw usage_error(fmt::format(
        "unknown pitfall '{}' (known: wrong-audience, missing-role, throttle, server-error, "
        "no-identity, slow-identity)",
        name));
  }
}

}  // namespace

std::string to_string(identity_mode mode) {
  switch (mode) {
    case identity_mode::app_service:
      return "app-service";
    case identity_mode::imds:
      return "imds";
    case identity_mode::service_principal:
      return "service-principal";
  }
  return "unknown";
}

emulator_options parse_emulator_options(std::span<const std::string> arguments) {
  // --pitfall may be repeated; the shared parser keeps only a flag's last value, so pitfalls
  // are taken out first. A value that is itself "--pitfall" is not a concern: it would name an
  // unknown pitfall and be refused.
  std::vector<std::string> rest;
  std::vector<std::string> pitfall_items;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& arg = arguments[i];
    if (arg == "--") {
      rest.insert(rest.end(), arguments.begin() + static_cast<std::ptrdiff_t>(i), arguments.end());
      break;
    }
    if (arg == "--pitfall") {
      if (i + 1 >= arguments.size()) {
        throw usage_error("option '--pitfall' needs a value (NAME[=N])");
      }
      pitfall_items.push_back(arguments[++i]);
    } else if (arg.starts_with("--pitfall=")) {
      pitfall_items.push_back(arg.substr(10));
    } else {
      rest.push_back(arg);
    }
  }

  const auto parsed = cli::parse_arguments(rest, option_specs);
  emulator_options o;
  o.help = parsed.help();
  if (!parsed.positional().empty()) {
    throw usage_error(fmt::format("unexpected argument '{}'", parsed.positional().front()));
  }
  if (auto mode = parsed.value("identity")) {
    if (*mode == "app-service") {
      o.identity = identity_mode::app_service;
    } else if (*mode == "imds") {
      o.identity = identity_mode::imds;
    } else if (*mode == "service-principal") {
      o.identity = identity_mode::service_principal;
    } else {
      throw usage_error(fmt::format(
          "--identity must be app-service, imds or service-principal, not '{}'", *mode));
    }
  }
  o.openai_port = port_of(parsed, "openai-port");
  o.identity_port = port_of(parsed, "identity-port");
  o.entra_port = port_of(parsed, "entra-port");
  o.deployment = parsed.value_or("deployment", o.deployment);
  if (o.deployment.empty() || o.deployment.find_first_of("/?#% ") != std::string::npos) {
    throw usage_error(fmt::format(
        "--deployment must be a non-empty name without '/', '?', '#', '%' or spaces, not '{}'",
        o.deployment));
  }
  o.reply = parsed.value_or("reply", "");
  o.api_key = parsed.value_or("api-key", "");
  if (parsed.value("api-key") && o.api_key.empty()) {
    throw usage_error("--api-key must not be empty");
  }
  o.directory = parsed.value_or("dir", "");
  o.env_file = parsed.value_or("env-file", "");
  if (parsed.value("dir") && o.directory.empty()) throw usage_error("--dir must not be empty");
  if (parsed.value("env-file") && o.env_file.empty()) {
    throw usage_error("--env-file must not be empty");
  }

  for (const std::string& item : pitfall_items) {
    if (item.empty()) throw usage_error("--pitfall needs a name");
    std::string_view rest_items = item;
    for (;;) {
      const auto comma = rest_items.find(',');
      const std::string_view one = rest_items.substr(0, comma);
      if (one.empty()) throw usage_error(fmt::format("--pitfall '{}' has an empty name", item));
      add_pitfall(o.pitfalls, one);
      if (comma == std::string_view::npos) break;
      rest_items.remove_prefix(comma + 1);
    }
  }
  return o;
}

std::string emulator_help() {
  return cli::format_help(
             "keyless-emulator [options]",
             "Runs a fake Microsoft Entra ID, a fake managed identity endpoint and a fake Azure "
             "OpenAI\n"
             "on 127.0.0.1, with a CA made at start, and writes an environment file for a shell "
             "to\n"
             "source ('. PATH'). Once listening it prints 'env file: PATH' and then 'ready' on "
             "stdout;\n"
             "SIGINT or SIGTERM stop it cleanly (exit status 0). See docs/EMULATOR.md.",
             option_specs) +
         "\npitfalls:\n"
         "  wrong-audience          bearer tokens get 401 (audience incorrect)\n"
         "  missing-role[=SECONDS]  bearer tokens get 403 PermissionDenied for SECONDS (30), "
         "then pass\n"
         "  throttle[=N]            the next N (3) chat requests get 429 with retry-after-ms\n"
         "  server-error[=N]        the next N (3) chat requests get 500\n"
         "  no-identity             no managed identity is attached to the resource\n"
         "  slow-identity[=MS]      managed identity answers after MS (2000) milliseconds\n";
}

}  // namespace keyless::emulator
