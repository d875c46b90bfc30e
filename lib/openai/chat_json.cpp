#include "openai/chat_json.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>
#include <simdjson.h>

#include "keyless/core/error.hpp"
#include "keyless/json/writer.hpp"
#include "openai/openai_error.hpp"

namespace keyless::openai {
namespace {

namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------
// Field paths for error messages. Built on the stack while walking and turned
// into text only when something fails, so the happy path does not allocate.

struct path {
  const path* parent = nullptr;
  std::string_view key;     // member name, or empty for an array element
  std::int64_t index = -1;  // array element index when >= 0
};

void render(const path* p, std::string& out) {
  if (!p) return;
  render(p->parent, out);
  if (p->index >= 0) {
    out += fmt::format("[{}]", p->index);
  } else if (!p->key.empty()) {
    if (!out.empty()) out += '.';
    out += p->key;
  }
}

std::string render(const path& p) {
  std::string out;
  render(&p, out);
  return out;
}

// ---------------------------------------------------------------------------
// Writing

[[noreturn]] void invalid(const path& p, std::string_view what) {
  throw error(errc::invalid_argument, fmt::format("chat request: {} {}", render(p), what));
}

// The shared json::writer does the escaping (invalid UTF-8 becomes U+FFFD,
// the project-wide policy for text from outside the program). This wrapper
// adds the field path to the few errors caller input can cause.
class writer {
 public:
  void reserve(std::size_t bytes) { w_.reserve(bytes); }
  void begin_object() { w_.begin_object(); }
  void end_object() { w_.end_object(); }
  void begin_array() { w_.begin_array(); }
  void end_array() { w_.end_array(); }
  void key(std::string_view name) { w_.key(name); }
  void key_checked(std::string_view name, const path& p) {
    try {
      w_.key(name);
    } catch (const error&) {
      invalid(p, "has a name that is not valid UTF-8");
    }
  }
  void string(std::string_view text) { w_.value(text); }
  void boolean(bool v) { w_.value(v); }
  void integer(std::int64_t v) { w_.value(v); }
  void number(double v, const path& p) {
    if (!std::isfinite(v)) invalid(p, "is not a finite number (JSON has no NaN or infinity)");
    w_.value(v);
  }
  void null() { w_.value(nullptr); }
  // Raw JSON fragments are pasted into the body, so they must parse on their
  // own: otherwise the service would answer a vague "invalid body" 400
  // instead of us naming the field.
  void raw(std::string_view json, const path& p, bool must_be_object) {
    if (must_be_object) {
      auto first = json.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos || json[first] != '{')
        invalid(p, "must be a JSON object");
    }
    try {
      w_.raw(json);
    } catch (const error&) {
      invalid(p, "is not exactly one well-formed JSON value");
    }
  }
  std::string release() { return w_.release(); }

 private:
  json::writer w_;
};

// A first guess at a request body's size: the messages' text plus room for the JSON around
// each message and for the other fields.
std::size_t expected_body_size(const chat_request& r) {
  std::size_t bytes = 256;
  for (const auto& m : r.messages) bytes += 64 + (m.content ? m.content->size() : 0);
  return bytes;
}

struct request_writer {
  writer w;
  // Top-level names written so far, to reject `extra` collisions.
  std::vector<std::string_view> written;

  void top_key(std::string_view name) {
    written.push_back(name);
    w.key(name);
  }
  bool was_written(std::string_view name) const {
    for (auto n : written)
      if (n == name) return true;
    return false;
  }

  void content_parts(const std::vector<content_part>& parts, const path& at) {
    w.begin_array();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& part = parts[i];
      path p{&at, {}, static_cast<std::int64_t>(i)};
      w.begin_object();
      if (part.type == content_part::kind::text) {
        w.key("type");
        w.string("text");
        w.key("text");
        w.string(part.text);
      } else {
        if (part.image_url.empty()) invalid(path{&p, "image_url"}, "is empty");
        w.key("type");
        w.string("image_url");
        w.key("image_url");
        w.begin_object();
        w.key("url");
        w.string(part.image_url);
        if (!part.detail.empty()) {
          w.key("detail");
          w.string(part.detail);
        }
        w.end_object();
      }
      w.end_object();
    }
    w.end_array();
  }

  void message(const chat_message& m, const path& p) {
    if (m.role.empty()) invalid(path{&p, "role"}, "is empty");
    w.begin_object();
    w.key("role");
    w.string(m.role);
    w.key("content");
    if (!m.parts.empty()) {
      content_parts(m.parts, path{&p, "parts"});
    } else if (m.content) {
      w.string(*m.content);
    } else {
      // Assistant turns that only call tools carry a null content.
      w.null();
    }
    if (!m.name.empty()) {
      w.key("name");
      w.string(m.name);
    }
    if (!m.tool_calls.empty()) {
      path calls{&p, "tool_calls"};
      w.key("tool_calls");
      w.begin_array();
      for (std::size_t i = 0; i < m.tool_calls.size(); ++i) {
        const auto& call = m.tool_calls[i];
        path c{&calls, {}, static_cast<std::int64_t>(i)};
        if (call.id.empty()) invalid(path{&c, "id"}, "is empty");
        if (call.function.name.empty()) invalid(path{&c, "function.name"}, "is empty");
        w.begin_object();
        w.key("id");
        w.string(call.id);
        w.key("type");
        w.string(call.type.empty() ? std::string_view("function") : call.type);
        w.key("function");
        w.begin_object();
        w.key("name");
        w.string(call.function.name);
        // The model's own arguments text goes back verbatim as a string: it
        // is not required to be valid JSON.
        w.key("arguments");
        w.string(call.function.arguments);
        w.end_object();
        w.end_object();
      }
      w.end_array();
    }
    if (!m.tool_call_id.empty()) {
      w.key("tool_call_id");
      w.string(m.tool_call_id);
    }
    if (m.refusal) {
      w.key("refusal");
      w.string(*m.refusal);
    }
    w.end_object();
  }

  void tools(const std::vector<tool_definition>& list, const path& at) {
    w.begin_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& tool = list[i];
      path t{&at, {}, static_cast<std::int64_t>(i)};
      path f{&t, "function"};
      if (tool.function.name.empty()) invalid(path{&f, "name"}, "is empty");
      w.begin_object();
      w.key("type");
      w.string(tool.type.empty() ? std::string_view("function") : tool.type);
      w.key("function");
      w.begin_object();
      w.key("name");
      w.string(tool.function.name);
      if (!tool.function.description.empty()) {
        w.key("description");
        w.string(tool.function.description);
      }
      if (!tool.function.parameters.empty()) {
        w.key("parameters");
        w.raw(tool.function.parameters, path{&f, "parameters"}, true);
      }
      if (tool.function.strict) {
        w.key("strict");
        w.boolean(*tool.function.strict);
      }
      w.end_object();
      w.end_object();
    }
    w.end_array();
  }

  void tool_choice(const tool_choice_option& choice, const path& p) {
    switch (choice.type) {
      case tool_choice_option::kind::automatic:
        w.string("auto");
        return;
      case tool_choice_option::kind::none:
        w.string("none");
        return;
      case tool_choice_option::kind::required:
        w.string("required");
        return;
      case tool_choice_option::kind::function:
        break;
    }
    if (choice.function_name.empty()) invalid(path{&p, "function_name"}, "is empty");
    w.begin_object();
    w.key("type");
    w.string("function");
    w.key("function");
    w.begin_object();
    w.key("name");
    w.string(choice.function_name);
    w.end_object();
    w.end_object();
  }

  void response_format(const response_format_option& format, const path& p) {
    w.begin_object();
    w.key("type");
    switch (format.type) {
      case response_format_option::kind::text:
        w.string("text");
        break;
      case response_format_option::kind::json_object:
        w.string("json_object");
        break;
      case response_format_option::kind::json_schema: {
        if (format.name.empty()) invalid(path{&p, "name"}, "is empty (json_schema needs a name)");
        w.string("json_schema");
        w.key("json_schema");
        w.begin_object();
        w.key("name");
        w.string(format.name);
        if (!format.description.empty()) {
          w.key("description");
          w.string(format.description);
        }
        if (!format.schema.empty()) {
          w.key("schema");
          w.raw(format.schema, path{&p, "schema"}, true);
        }
        if (format.strict) {
          w.key("strict");
          w.boolean(*format.strict);
        }
        w.end_object();
        break;
      }
    }
    w.end_object();
  }

  void body(const chat_request& r, const request_body_options& options) {
    path root{nullptr, "chat_request"};
    if (r.messages.empty()) invalid(path{&root, "messages"}, "is empty");
    // Sized up front, so neither the text nor the list of names is copied as it grows.
    w.reserve(expected_body_size(r));
    written.reserve(32);
    w.begin_object();
    if (!options.model.empty()) {
      top_key("model");
      w.string(options.model);
    }
    {
      path p{&root, "messages"};
      top_key("messages");
      w.begin_array();
      for (std::size_t i = 0; i < r.messages.size(); ++i)
        message(r.messages[i], path{&p, {}, static_cast<std::int64_t>(i)});
      w.end_array();
    }
    auto number = [&](std::string_view name, const std::optional<double>& v) {
      if (!v) return;
      top_key(name);
      w.number(*v, path{&root, name});
    };
    auto integer = [&](std::string_view name, const std::optional<std::int64_t>& v) {
      if (!v) return;
      top_key(name);
      w.integer(*v);
    };
    auto boolean = [&](std::string_view name, const std::optional<bool>& v) {
      if (!v) return;
      top_key(name);
      w.boolean(*v);
    };
    auto text = [&](std::string_view name, const std::optional<std::string>& v) {
      if (!v) return;
      top_key(name);
      w.string(*v);
    };
    number("temperature", r.temperature);
    number("top_p", r.top_p);
    integer("max_tokens", r.max_tokens);
    integer("max_completion_tokens", r.max_completion_tokens);
    integer("n", r.n);
    if (!r.stop.empty()) {
      top_key("stop");
      w.begin_array();
      for (const auto& s : r.stop) w.string(s);
      w.end_array();
    }
    number("presence_penalty", r.presence_penalty);
    number("frequency_penalty", r.frequency_penalty);
    integer("seed", r.seed);
    text("user", r.user);
    if (r.response_format) {
      top_key("response_format");
      response_format(*r.response_format, path{&root, "response_format"});
    }
    if (!r.tools.empty()) {
      top_key("tools");
      tools(r.tools, path{&root, "tools"});
    }
    if (r.tool_choice) {
      top_key("tool_choice");
      tool_choice(*r.tool_choice, path{&root, "tool_choice"});
    }
    boolean("parallel_tool_calls", r.parallel_tool_calls);
    text("reasoning_effort", r.reasoning_effort);
    boolean("logprobs", r.logprobs);
    integer("top_logprobs", r.top_logprobs);
    if (options.stream) {
      top_key("stream");
      w.boolean(true);
      if (r.include_usage) {
        top_key("stream_options");
        w.begin_object();
        w.key("include_usage");
        w.boolean(*r.include_usage);
        w.end_object();
      }
    }
    {
      path p{&root, "extra"};
      for (std::size_t i = 0; i < r.extra.size(); ++i) {
        const auto& [name, value] = r.extra[i];
        path e{&p, {}, static_cast<std::int64_t>(i)};
        if (name.empty()) invalid(e, "has an empty name");
        if (was_written(name))
          invalid(e, fmt::format("names \"{}\", which the request already sets", name));
        if (value.empty()) invalid(e, "has an empty value");
        w.key_checked(name, e);
        written.push_back(name);
        w.raw(value, e, false);
      }
    }
    w.end_object();
  }
};

// ---------------------------------------------------------------------------
// Parsing

[[noreturn]] void malformed(std::string_view what, const path& p, std::string_view reason) {
  auto where = render(p);
  if (where.empty()) where = "top level";
  throw error(errc::malformed_response, fmt::format("malformed {}: {}: {}", what, where, reason));
}

[[noreturn]] void malformed(std::string_view what, const path& p, simdjson::error_code ec,
                            std::string_view expected) {
  if (ec == simdjson::INCORRECT_TYPE) malformed(what, p, fmt::format("expected {}", expected));
  malformed(what, p, fmt::format("expected {} ({})", expected, simdjson::error_message(ec)));
}

bool key_is(od::field& field, std::string_view name) {
  return field.key() == name;
}

// Walks one document. `what_` names it in messages ("chat chunk").
class reader {
 public:
  explicit reader(std::string_view what) : what_(what) {}

  [[noreturn]] void fail(const path& p, simdjson::error_code ec, std::string_view expected) {
    malformed(what_, p, ec, expected);
  }

  bool is_null(od::value& v, const path& p) {
    bool null = false;
    auto ec = v.is_null().get(null);
    // INCORRECT_TYPE only means "not null"; anything else is broken JSON.
    if (ec && ec != simdjson::INCORRECT_TYPE) fail(p, ec, "a value");
    return !ec && null;
  }

  // Calls f(field, path) for each member of `obj` at `p`.
  template <typename F>
  void members(od::object& obj, const path& p, F&& f) {
    for (auto item : obj) {
      od::field field;
      if (auto ec = std::move(item).get(field)) fail(p, ec, "an object");
      f(field, p);
    }
  }
  // Same for a value that must be an object or null (null counts as empty).
  template <typename F>
  void members(od::value& v, const path& p, F&& f) {
    if (is_null(v, p)) return;
    od::object obj;
    if (auto ec = v.get_object().get(obj)) fail(p, ec, "an object");
    members(obj, p, std::forward<F>(f));
  }

  // Calls f(element, path) for each element of an array (null counts as empty).
  template <typename F>
  void elements(od::value& v, const path& p, F&& f) {
    if (is_null(v, p)) return;
    od::array arr;
    if (auto ec = v.get_array().get(arr)) fail(p, ec, "an array");
    std::int64_t i = 0;
    for (auto item : arr) {
      path ep{&p, {}, i++};
      od::value element;
      if (auto ec = std::move(item).get(element)) fail(ep, ec, "a value");
      f(element, ep);
    }
  }

  std::string_view string_view(od::value& v, const path& p) {
    std::string_view s;
    if (auto ec = v.get_string().get(s)) fail(p, ec, "a string");
    return s;
  }
  // String or null; null reads as "".
  void string(od::value& v, const path& p, std::string& out) {
    if (is_null(v, p)) {
      out.clear();
      return;
    }
    out.assign(string_view(v, p));
  }
  // String or null; null stays nullopt (content: null is not content: "").
  void optional_string(od::value& v, const path& p, std::optional<std::string>& out) {
    if (is_null(v, p)) {
      out.reset();
      return;
    }
    out.emplace(string_view(v, p));
  }
  std::optional<std::int64_t> optional_integer(od::value& v, const path& p) {
    if (is_null(v, p)) return std::nullopt;
    std::int64_t n = 0;
    if (auto ec = v.get_int64().get(n)) fail(p, ec, "an integer");
    return n;
  }
  std::int64_t integer(od::value& v, const path& p) { return optional_integer(v, p).value_or(0); }
  std::optional<bool> optional_boolean(od::value& v, const path& p) {
    if (is_null(v, p)) return std::nullopt;
    bool b = false;
    if (auto ec = v.get_bool().get(b)) fail(p, ec, "a boolean");
    return b;
  }

  // ----- shapes shared by completions and chunks

  void filter_category_object(od::value& v, const path& p, filter_category& out) {
    members(v, p, [&](od::field& f, const path& parent) {
      if (key_is(f, "filtered")) {
        out.filtered = optional_boolean(f.value(), path{&parent, "filtered"}).value_or(false);
      } else if (key_is(f, "severity")) {
        string(f.value(), path{&parent, "severity"}, out.severity);
      } else if (key_is(f, "detected")) {
        out.detected = optional_boolean(f.value(), path{&parent, "detected"});
      }
    });
  }

  void filter_results_object(od::value& v, const path& p, filter_results& out) {
    members(v, p, [&](od::field& f, const path& parent) {
      std::string_view name;
      if (auto ec = f.unescaped_key().get(name)) fail(parent, ec, "an object key");
      path cp{&parent, name};
      od::value& value = f.value();
      od::json_type type;
      if (auto ec = value.type().get(type)) fail(cp, ec, "a value");
      // Categories come and go (protected_material_code, indirect_attack,
      // custom_blocklists, ...) and some have other shapes: keep every object
      // that looks like a verdict, skip the rest.
      if (type != od::json_type::object) return;
      if (name == "error") {
        members(value, cp, [&](od::field& e, const path& ep) {
          if (key_is(e, "code")) {
            od::value& code = e.value();
            od::json_type code_type;
            if (auto ec = code.type().get(code_type)) fail(path{&ep, "code"}, ec, "a value");
            if (code_type == od::json_type::number) {
              out.error_code = fmt::format("{}", integer(code, path{&ep, "code"}));
            } else {
              string(code, path{&ep, "code"}, out.error_code);
            }
          } else if (key_is(e, "message")) {
            string(e.value(), path{&ep, "message"}, out.error_message);
          }
        });
        if (out.error_code.empty()) out.error_code = "error";
        return;
      }
      filter_category category;
      category.name.assign(name);
      filter_category_object(value, cp, category);
      // Azure sends four to eight categories: one allocation instead of a vector growing.
      if (out.categories.capacity() == 0) out.categories.reserve(8);
      out.categories.push_back(std::move(category));
    });
  }

  void prompt_filter_results_array(od::value& v, const path& p,
                                   std::vector<prompt_filter_result>& out) {
    elements(v, p, [&](od::value& element, const path& ep) {
      prompt_filter_result r;
      members(element, ep, [&](od::field& f, const path& parent) {
        if (key_is(f, "prompt_index")) {
          r.prompt_index = integer(f.value(), path{&parent, "prompt_index"});
        } else if (key_is(f, "content_filter_results")) {
          filter_results_object(f.value(), path{&parent, "content_filter_results"},
                                r.content_filter_results);
        }
      });
      out.push_back(std::move(r));
    });
  }

  std::optional<token_usage> usage_object(od::value& v, const path& p) {
    if (is_null(v, p)) return std::nullopt;
    token_usage u;
    members(v, p, [&](od::field& f, const path& parent) {
      if (key_is(f, "prompt_tokens")) {
        u.prompt_tokens = integer(f.value(), path{&parent, "prompt_tokens"});
      } else if (key_is(f, "completion_tokens")) {
        u.completion_tokens = integer(f.value(), path{&parent, "completion_tokens"});
      } else if (key_is(f, "total_tokens")) {
        u.total_tokens = integer(f.value(), path{&parent, "total_tokens"});
      } else if (key_is(f, "prompt_tokens_details")) {
        path dp{&parent, "prompt_tokens_details"};
        members(f.value(), dp, [&](od::field& d, const path& pp) {
          if (key_is(d, "cached_tokens"))
            u.cached_tokens = optional_integer(d.value(), path{&pp, "cached_tokens"});
        });
      } else if (key_is(f, "completion_tokens_details")) {
        path dp{&parent, "completion_tokens_details"};
        members(f.value(), dp, [&](od::field& d, const path& pp) {
          if (key_is(d, "reasoning_tokens"))
            u.reasoning_tokens = optional_integer(d.value(), path{&pp, "reasoning_tokens"});
        });
      }
    });
    return u;
  }

  // {"name": ..., "arguments": ...}
  void function_object(od::value& v, const path& p, std::string& name, std::string& arguments) {
    members(v, p, [&](od::field& f, const path& parent) {
      if (key_is(f, "name")) {
        string(f.value(), path{&parent, "name"}, name);
      } else if (key_is(f, "arguments")) {
        string(f.value(), path{&parent, "arguments"}, arguments);
      }
    });
  }

  void message_object(od::value& v, const path& p, chat_message& m) {
    members(v, p, [&](od::field& f, const path& parent) {
      if (key_is(f, "role")) {
        string(f.value(), path{&parent, "role"}, m.role);
      } else if (key_is(f, "content")) {
        optional_string(f.value(), path{&parent, "content"}, m.content);
      } else if (key_is(f, "refusal")) {
        optional_string(f.value(), path{&parent, "refusal"}, m.refusal);
      } else if (key_is(f, "name")) {
        string(f.value(), path{&parent, "name"}, m.name);
      } else if (key_is(f, "tool_calls")) {
        elements(f.value(), path{&parent, "tool_calls"}, [&](od::value& e, const path& ep) {
          tool_call call;
          members(e, ep, [&](od::field& c, const path& cp) {
            if (key_is(c, "id")) {
              string(c.value(), path{&cp, "id"}, call.id);
            } else if (key_is(c, "type")) {
              string(c.value(), path{&cp, "type"}, call.type);
            } else if (key_is(c, "function")) {
              function_object(c.value(), path{&cp, "function"}, call.function.name,
                              call.function.arguments);
            }
          });
          m.tool_calls.push_back(std::move(call));
        });
      }
    });
  }

  void delta_object(od::value& v, const path& p, chat_delta& d) {
    members(v, p, [&](od::field& f, const path& parent) {
      if (key_is(f, "content")) {
        optional_string(f.value(), path{&parent, "content"}, d.content);
      } else if (key_is(f, "role")) {
        optional_string(f.value(), path{&parent, "role"}, d.role);
      } else if (key_is(f, "refusal")) {
        optional_string(f.value(), path{&parent, "refusal"}, d.refusal);
      } else if (key_is(f, "tool_calls")) {
        elements(f.value(), path{&parent, "tool_calls"}, [&](od::value& e, const path& ep) {
          tool_call_delta call;
          members(e, ep, [&](od::field& c, const path& cp) {
            if (key_is(c, "index")) {
              call.index = integer(c.value(), path{&cp, "index"});
            } else if (key_is(c, "id")) {
              string(c.value(), path{&cp, "id"}, call.id);
            } else if (key_is(c, "type")) {
              string(c.value(), path{&cp, "type"}, call.type);
            } else if (key_is(c, "function")) {
              function_object(c.value(), path{&cp, "function"}, call.name, call.arguments);
            }
          });
          d.tool_calls.push_back(std::move(call));
        });
      }
    });
  }

  // Members common to completions and chunks. Returns false for unknown keys.
  template <typename Document>
  bool envelope_member(od::field& f, const path& root, Document& out) {
    if (key_is(f, "id")) {
      string(f.value(), path{&root, "id"}, out.id);
    } else if (key_is(f, "object")) {
      string(f.value(), path{&root, "object"}, out.object);
    } else if (key_is(f, "created")) {
      out.created = integer(f.value(), path{&root, "created"});
    } else if (key_is(f, "model")) {
      string(f.value(), path{&root, "model"}, out.model);
    } else if (key_is(f, "system_fingerprint")) {
      string(f.value(), path{&root, "system_fingerprint"}, out.system_fingerprint);
    } else if (key_is(f, "usage")) {
      out.usage = usage_object(f.value(), path{&root, "usage"});
    } else if (key_is(f, "prompt_filter_results")) {
      prompt_filter_results_array(f.value(), path{&root, "prompt_filter_results"},
                                  out.prompt_filter_results);
    } else if (key_is(f, "prompt_annotations")) {
      // The 2023-07-01-preview name of prompt_filter_results.
      prompt_filter_results_array(f.value(), path{&root, "prompt_annotations"},
                                  out.prompt_filter_results);
    } else {
      return false;
    }
    return true;
  }

  // An `error` member of a stream event: the service failed mid-stream.
  void stream_error_member(od::value& v, const path& p) {
    od::json_type type;
    if (auto ec = v.type().get(type)) fail(p, ec, "a value");
    std::string code;
    std::string message;
    bool truthy = true;
    switch (type) {
      case od::json_type::null:
        truthy = false;
        break;
      case od::json_type::boolean:
        truthy = optional_boolean(v, p).value_or(false);
        break;
      case od::json_type::string:
        message.assign(string_view(v, p));
        truthy = !message.empty();
        break;
      case od::json_type::object: {
        std::size_t count = 0;
        members(v, p, [&](od::field& f, const path& parent) {
          ++count;
          if (key_is(f, "message")) {
            string(f.value(), path{&parent, "message"}, message);
          } else if (key_is(f, "code")) {
            od::value& c = f.value();
            od::json_type ct;
            if (auto ec = c.type().get(ct)) fail(path{&parent, "code"}, ec, "a value");
            if (ct == od::json_type::number) {
              code = fmt::format("{}", integer(c, path{&parent, "code"}));
            } else {
              string(c, path{&parent, "code"}, code);
            }
          }
        });
        truthy = count > 0;
        break;
      }
      default:
        break;
    }
    if (truthy) throw stream_event_error(code, message);
  }

  chat_completion completion(od::document& doc) {
    path root{};
    od::object obj;
    if (auto ec = doc.get_object().get(obj)) fail(root, ec, "an object");
    chat_completion out;
    members(obj, root, [&](od::field& f, const path& r) {
      if (envelope_member(f, r, out)) return;
      if (key_is(f, "choices")) {
        elements(f.value(), path{&r, "choices"}, [&](od::value& e, const path& ep) {
          chat_choice choice;
          members(e, ep, [&](od::field& c, const path& cp) {
            if (key_is(c, "index")) {
              choice.index = integer(c.value(), path{&cp, "index"});
            } else if (key_is(c, "message")) {
              message_object(c.value(), path{&cp, "message"}, choice.message);
            } else if (key_is(c, "finish_reason")) {
              string(c.value(), path{&cp, "finish_reason"}, choice.finish_reason);
            } else if (key_is(c, "content_filter_results")) {
              filter_results_object(c.value(), path{&cp, "content_filter_results"},
                                    choice.content_filter_results);
            }
          });
          out.choices.push_back(std::move(choice));
        });
      }
    });
    finish(doc, root);
    return out;
  }

  chat_chunk chunk(od::document& doc) {
    path root{};
    od::object obj;
    if (auto ec = doc.get_object().get(obj)) fail(root, ec, "an object");
    chat_chunk out;
    members(obj, root, [&](od::field& f, const path& r) {
      if (envelope_member(f, r, out)) return;
      if (key_is(f, "choices")) {
        elements(f.value(), path{&r, "choices"}, [&](od::value& e, const path& ep) {
          chunk_choice choice;
          members(e, ep, [&](od::field& c, const path& cp) {
            if (key_is(c, "index")) {
              choice.index = integer(c.value(), path{&cp, "index"});
            } else if (key_is(c, "delta")) {
              delta_object(c.value(), path{&cp, "delta"}, choice.delta);
            } else if (key_is(c, "finish_reason")) {
              string(c.value(), path{&cp, "finish_reason"}, choice.finish_reason);
            } else if (key_is(c, "content_filter_results")) {
              filter_results_object(c.value(), path{&cp, "content_filter_results"},
                                    choice.content_filter_results);
            }
          });
          out.choices.push_back(std::move(choice));
        });
      } else if (key_is(f, "error")) {
        stream_error_member(f.value(), path{&r, "error"});
      }
    });
    finish(doc, root);
    return out;
  }

 private:
  // On-Demand stops reading after the root object; anything after it is junk
  // that a strict reader must not silently accept.
  void finish(od::document& doc, const path& root) {
    const char* location = nullptr;
    if (doc.current_location().get(location) != simdjson::OUT_OF_BOUNDS)
      malformed(what_, root, "unexpected content after the JSON value");
  }

  std::string_view what_;
};

}  // namespace

std::string write_chat_request(const chat_request& request, const request_body_options& options) {
  request_writer w;
  w.body(request, options);
  return w.w.release();
}

struct chat_parser::impl {
  od::parser parser;
  std::string buffer;

  od::document iterate(std::string_view json, std::string_view what) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end; pad with
    // spaces so those bytes are ours and initialised.
    buffer.clear();
    buffer.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    buffer.append(json);
    buffer.append(simdjson::SIMDJSON_PADDING, ' ');
    od::document doc;
    if (auto ec = parser.iterate(buffer.data(), json.size(), buffer.size()).get(doc))
      throw error(errc::malformed_response,
                  fmt::format("malformed {}: {}", what, simdjson::error_message(ec)));
    return doc;
  }
};

chat_parser::chat_parser() : impl_(std::make_unique<impl>()) {}
chat_parser::~chat_parser() = default;
chat_parser::chat_parser(chat_parser&&) noexcept = default;
chat_parser& chat_parser::operator=(chat_parser&&) noexcept = default;

chat_completion chat_parser::parse_completion(std::string_view body) {
  constexpr std::string_view what = "chat completion";
  auto doc = impl_->iterate(body, what);
  return reader(what).completion(doc);
}

chat_chunk chat_parser::parse_chunk(std::string_view data) {
  constexpr std::string_view what = "chat chunk";
  auto doc = impl_->iterate(data, what);
  return reader(what).chunk(doc);
}

namespace {

// A parser per thread, so its buffers are reused rather than allocated for every document;
// a rare huge document gets a parser of its own, so no thread keeps that much memory.
template <typename Parse>
auto with_thread_parser(std::string_view json, Parse parse) {
  constexpr std::size_t reuse_up_to = 256 * 1024;
  if (json.size() > reuse_up_to) {
    chat_parser own;
    return parse(own);
  }
  thread_local chat_parser parser;
  return parse(parser);
}

}  // namespace

chat_completion parse_chat_completion(std::string_view body) {
  return with_thread_parser(body, [&](chat_parser& p) { return p.parse_completion(body); });
}

chat_chunk parse_chat_chunk(std::string_view data) {
  return with_thread_parser(data, [&](chat_parser& p) { return p.parse_chunk(data); });
}

}  // namespace keyless::openai
