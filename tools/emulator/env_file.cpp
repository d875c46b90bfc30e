#include "env_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace keyless::emulator {
namespace {

bool is_identifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view what, const std::filesystem::path& path, int error) {
  throw std::runtime_error(
      fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(error)));
}

}  // namespace

std::string shell_quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string render_env_file(const std::vector<env_entry>& entries) {
  std::string text;
  for (const auto& e : entries) {
    if (e.what != env_entry::kind::comment && !is_identifier(e.name)) {
      throw std::invalid_argument(fmt::format("'{}' is not a shell variable name", e.name));
    }
    switch (e.what) {
      case env_entry::kind::comment:
        // A comment never spans lines: a newline would turn the rest into a command.
        for (std::string_view rest = e.name;;) {
          const auto nl = rest.find('\n');
          text += fmt::format("# {}\n", rest.substr(0, nl));
          if (nl == std::string_view::npos) break;
          rest.remove_prefix(nl + 1);
        }
        break;
      case env_entry::kind::set:
        text += fmt::format("export {}={}\n", e.name, shell_quote(e.value));
        break;
      case env_entry::kind::unset:
        text += fmt::format("unset {}\n", e.name);
        break;
      case env_entry::kind::prepend_list:
        // The item, then the variable's old value (if any) after a comma; only the item is
        // ours, so only it is quoted.
        text += fmt::format("export {0}={1}\"${{{0}:+,${0}}}\"\n", e.name, shell_quote(e.value));
        break;
    }
  }
  return text;
}

void write_private_file(const std::filesystem::path& path, std::string_view text) {
  std::filesystem::path temporary = path;
  temporary += fmt::format(".tmp{}", ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("create", temporary, errno);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      fail("write", temporary, error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail("write", temporary, error);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail("write", path, error);
  }
}

}  // namespace keyless::emulator
