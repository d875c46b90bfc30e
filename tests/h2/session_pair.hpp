#pragma once
// Our client session and our server session joined in memory: what one
// writes is fed to the other, so server tests speak to a peer that follows
// the same RFC from the other end. Events on both sides become lines.

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "event_lines.hpp"
#include "http/h2/client_session.hpp"
#include "http/h2/server_session.hpp"

namespace h2_test {

namespace h2 = keyless::http::h2;

/// A request as the server session reported it, copied out.
struct served_request {
  std::uint32_t id = 0;
  std::string method;
  std::string scheme;
  std::string authority;
  std::string path;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;

  std::string field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "<none>";
  }
};

/// Records the server's events; on_request may answer through `answer`.
struct server_recorder : h2::server_events {
  std::vector<served_request> requests;
  std::vector<std::string> lines;
  std::function<void(std::uint32_t, h2::incoming_request&)> answer;

  void on_request(std::uint32_t id, h2::incoming_request& r) override {
    served_request copy{id,
                        std::string(r.method),
                        std::string(r.scheme),
                        std::string(r.authority),
                        std::string(r.path),
                        {},
                        r.body};
    for (const auto& f : r.fields) copy.fields.emplace_back(f.name, f.value);
    lines.push_back(fmt::format("request {} {} {} {}", id, r.method, r.path, r.body.size()));
    requests.push_back(std::move(copy));
    if (answer) answer(id, r);
  }
  void on_cancelled(std::uint32_t id, h2::error_code code) override {
    lines.push_back(fmt::format("cancelled {} {}", id, h2::to_string(code)));
  }
  void on_goaway(std::uint32_t last, h2::error_code code, std::string_view) override {
    lines.push_back(goaway_line(last, code));
  }

  std::string text() const { return lines_text(lines); }
};

/// A response as the client session saw it.
struct received_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool ended = false;
  std::optional<h2::stream_failure> failure;
  std::string failure_message;
};

/// Records the client's events; consumes data at once unless told not to.
struct client_recorder : h2::session_events {
  std::map<std::uint32_t, received_response> responses;
  std::vector<std::string> lines;
  std::vector<std::pair<std::uint32_t, std::size_t>> unconsumed;

  void on_response_head(std::uint32_t id, int status,
                        std::span<const h2::field_view> fields) override {
    auto& r = responses[id];
    r.status = status;
    for (const auto& f : fields) r.fields.emplace_back(f.name, f.value);
  }
  void on_data(std::uint32_t id, std::string_view data) override {
    responses[id].body += data;
    unconsumed.emplace_back(id, data.size());
  }
  void on_end(std::uint32_t id, std::span<const h2::field_view> trailers) override {
    auto& r = responses[id];
    r.ended = true;
    for (const auto& f : trailers) r.trailers.emplace_back(f.name, f.value);
  }
  void on_failed(std::uint32_t id, const h2::stream_failure& f) override {
    responses[id].failure = f;
    responses[id].failure_message = std::string(f.message);
    lines.push_back(failed_line(id, f));
  }
  void on_goaway(std::uint32_t last, h2::error_code code, std::string_view) override {
    lines.push_back(goaway_line(last, code));
  }
};

/// Both sessions and the bytes between them.
struct session_pair {
  explicit session_pair(h2::server_session_options server_options = {},
                        h2::session_options client_options = {})
      : client(client_options), server(server_options) {
    client.start(to_server);
    server.start(to_client);
  }

  /// Moves bytes both ways until neither side has anything to say. With
  /// `consume`, the client hands back every byte it received (WINDOW_UPDATEs).
  void pump(bool consume = true) {
    for (int round = 0; round < 10'000; ++round) {
      if (consume) consume_all();
      if (to_server.empty() && to_client.empty()) return;
      std::string bytes;
      bytes.swap(to_server);
      server.receive(bytes, to_client, server_events);
      bytes.clear();
      bytes.swap(to_client);
      client.receive(bytes, to_server, client_events);
    }
    BOOST_FAIL("the sessions never went quiet");
  }

  void consume_all() {
    for (auto [id, n] : client_events.unconsumed) client.consume(id, n, to_server);
    client_events.unconsumed.clear();
  }

  std::uint32_t open(const h2::request_head& head, std::string body = {}) {
    std::optional<std::uint32_t> id = client.open_stream(head, std::move(body), to_server);
    BOOST_REQUIRE(id.has_value());
    return *id;
  }

  /// A response head from the server, straight into its output.
  void respond(std::uint32_t id, int status, std::string_view body,
               std::vector<h2::field_view> fields = {}) {
    BOOST_REQUIRE(server.respond_head(id, status, fields, body.empty(), to_client));
    if (!body.empty()) BOOST_REQUIRE(server.send_data(id, body, true, to_client));
  }

  h2::client_session client;
  h2::server_session server;
  client_recorder client_events;
  server_recorder server_events;
  std::string to_server;  // the client's output
  std::string to_client;  // the server's output
};

inline h2::request_head request(std::string_view method, std::string_view path,
                                const keyless::http::fields* fields = nullptr) {
  h2::request_head head;
  head.method = method;
  head.scheme = "https";
  head.authority = "example.openai.azure.com";
  head.path = path;
  head.fields = fields;
  return head;
}

}  // namespace h2_test
