#include "token_output.hpp"

#include <time.h>

#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "keyless/json/writer.hpp"

namespace keyless::cli {
namespace {

std::string json_quoted(std::string_view text) {
  json::writer w;
  w.value(text);
  return w.release();
}

std::int64_t epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// (key, JSON value, TSV value) in az's order: knack sorts keys by code point, which puts
// "expiresOn" before "expires_on".
std::vector<std::pair<std::string, std::pair<std::string, std::string>>> fields(
    const token_output& t) {
  const auto local = az_local_time(t.expires_on);
  const auto epoch = fmt::format("{}", epoch_seconds(t.expires_on));
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> out;
  out.push_back({"accessToken", {json_quoted(t.access_token), std::string(t.access_token)}});
  out.push_back({"expiresOn", {json_quoted(local), local}});
  out.push_back({"expires_on", {epoch, epoch}});
  out.push_back({"source", {json_quoted(t.source), t.source}});
  if (t.tenant) out.push_back({"tenant", {json_quoted(*t.tenant), *t.tenant}});
  out.push_back({"tokenType", {json_quoted("Bearer"), "Bearer"}});
  return out;
}

}  // namespace

std::string az_local_time(std::chrono::system_clock::time_point t) {
  // az converts its epoch integer with datetime.fromtimestamp, so the fraction is always 0.
  const time_t seconds = static_cast<time_t>(epoch_seconds(t));
  struct tm local {};
  ::tzset();
  if (::localtime_r(&seconds, &local) == nullptr) return fmt::format("{}", seconds);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000", local.tm_year + 1900,
                     local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec);
}

std::string format_token_json(const token_output& t) {
  std::string text = "{\n";
  const auto all = fields(t);
  for (std::size_t i = 0; i < all.size(); ++i) {
    text += fmt::format("  {}: {}{}\n", json_quoted(all[i].first), all[i].second.first,
                        i + 1 < all.size() ? "," : "");
  }
  text += "}\n";
  return text;
}

std::string format_token_tsv(const token_output& t) {
  std::string text;
  for (const auto& [key, value] : fields(t)) {
    if (!text.empty()) text += '\t';
    text += value.second;
  }
  text += '\n';
  return text;
}

}  // namespace keyless::cli
