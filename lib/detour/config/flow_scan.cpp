#include "detour/config/flow_scan.hpp"

#include "detour/config/config_limits.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <optional>

namespace detour::config_detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_flow_indicator(char c) { return c == '[' || c == ']' || c == '{' || c == '}' || c == ','; }

class flow_scanner {
 public:
  flow_scanner(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  void run() {
    while (pos_ < text_.size()) step();
  }

 private:
  YAML::Mark mark_at(std::size_t pos) const {
    YAML::Mark m;
    m.pos = static_cast<int>(pos);
    m.line = static_cast<int>(line_);
    m.column = static_cast<int>(pos - line_start_);
    return m;
  }

  char peek(std::size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\n'; }

  // Where a new token may begin: a quote there opens a quoted scalar, a # a comment.
  bool at_token_start() const {
    if (pos_ == 0) return true;
    const char prev = text_[pos_ - 1];
    return is_space(prev) || (depth_ > 0 && (is_flow_indicator(prev) || prev == ':'));
  }

  void newline() {
    ++line_;
    line_start_ = pos_ + 1;
    // In block context a value ends with its line; in flow context the collection goes on.
    if (depth_ == 0) value_position_ = false;
  }

  void step() {
    check_lookahead();
    const char c = text_[pos_];
    // A plain scalar goes on over spaces, in flow context too: only a line end, an indicator or a
    // comment ends it.
    if (c == '\n' || (depth_ > 0 && is_flow_indicator(c))) {
      run_from_.reset();
    } else if (!run_from_ && !is_space(c)) {
      run_from_ = pos_;
      run_mark_ = mark_at(pos_);
    } else {
      check_run();
    }
    if (c == '\n') {
      newline();
      ++pos_;
      return;
    }
    if (is_space(c)) {
      ++pos_;
      return;
    }
    const bool token_start = at_token_start();
    if (c == '#' && token_start) {
      run_from_.reset();
      return skip_long_comment();
    }
    if ((c == '"' || c == '\'') && token_start) {
      value_position_ = false;
      return skip_quoted(c);
    }
    if ((c == '|' || c == '>') && token_start && depth_ == 0) return skip_block_scalar();
    if ((c == '&' || c == '!') && token_start) return skip_word();  // an anchor or tag keeps the position
    if ((c == '[' || c == '{') && (depth_ > 0 || token_start)) return open();
    if ((c == ']' || c == '}') && depth_ > 0) return close();
    if (c == ':' && (is_space(peek(1)) || (depth_ > 0 && is_flow_indicator(peek(1))))) {
      value_position_ = true;
      run_from_.reset();
      ++pos_;
      return;
    }
    value_position_ = false;
    ++pos_;
  }

  void open() {
    run_from_.reset();
    ++depth_;
    if (depth_ > config_limits::nesting_depth) {
      fail(source_, mark_at(pos_), "YAML", fmt::format("nested too deep (limit {})", config_limits::nesting_depth));
    }
    // Only a collection in a value's place is read as it goes; the outermost one read ahead
    // bounds everything inside it.
    if (!value_position_ && !lookahead_from_) {
      lookahead_from_ = pos_;
      lookahead_depth_ = depth_;
      lookahead_mark_ = mark_at(pos_);
    }
    value_position_ = false;
    ++pos_;
  }

  void close() {
    run_from_.reset();
    if (lookahead_from_ && depth_ == lookahead_depth_) lookahead_from_.reset();
    --depth_;
    value_position_ = false;
    ++pos_;
  }

  void check_lookahead() const {
    if (lookahead_from_ && pos_ - *lookahead_from_ > config_limits::lookahead_bytes) {
      fail(source_, lookahead_mark_, "YAML",
           fmt::format("[...] or {{...}} longer than {} bytes (the limit) where a mapping key could be; only one "
                       "that follows `key:` is read as it goes, so write `key: [...]` or a block list",
                       config_limits::lookahead_bytes));
    }
  }

  // yaml-cpp scans a scalar whole, at a few MB/s, before its event can be refused for length; a
  // run of bytes with no space or flow indicator in it is one scalar (or anchor, or tag) at least
  // that long.
  void check_run() const {
    if (run_from_ && pos_ - *run_from_ >= config_limits::lookahead_bytes) {
      fail(source_, run_mark_, "YAML",
           fmt::format("a scalar longer than {} bytes; the limit is {}", config_limits::lookahead_bytes,
                       config_limits::string_bytes));
    }
  }

  // yaml-cpp skips a comment at a few MB/s as well.
  void skip_long_comment() {
    const auto from = pos_;
    const auto mark = mark_at(pos_);
    skip_comment();
    if (pos_ - from > config_limits::lookahead_bytes) {
      fail(source_, mark, "YAML", fmt::format("a comment longer than {} bytes", config_limits::lookahead_bytes));
    }
  }

  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
  }

  void skip_quoted(char quote) {
    ++pos_;
    while (pos_ < text_.size()) {
      check_lookahead();
      check_run();
      const char c = text_[pos_];
      if (c == '\n') {
        newline();
      } else if (quote == '"' && c == '\\') {
        ++pos_;  // the escaped character, which may be a quote
        if (pos_ < text_.size() && text_[pos_] == '\n') newline();
      } else if (c == quote) {
        if (quote == '\'' && peek(1) == '\'') {
          ++pos_;  // '' is a quote inside a single-quoted scalar
        } else {
          ++pos_;
          return;
        }
      }
      ++pos_;
    }
    // Unterminated: yaml-cpp says where.
  }

  void skip_word() {
    while (pos_ < text_.size() && !is_space(text_[pos_]) && !(depth_ > 0 && is_flow_indicator(text_[pos_]))) {
      ++pos_;
      check_run();
    }
  }

  // The lines after `|` or `>` that are indented deeper than the line holding it are text.
  void skip_block_scalar() {
    std::size_t indent = 0;
    while (line_start_ + indent < text_.size() && text_[line_start_ + indent] == ' ') ++indent;
    skip_comment();
    while (pos_ < text_.size()) {
      // pos_ is at the '\n' ending the previous line
      std::size_t next = pos_ + 1;
      std::size_t spaces = 0;
      while (next + spaces < text_.size() && text_[next + spaces] == ' ') ++spaces;
      const bool blank = next + spaces >= text_.size() || text_[next + spaces] == '\n' || text_[next + spaces] == '\r';
      if (!blank && spaces <= indent) return;
      newline();
      pos_ = next;
      skip_comment();
      check_run();  // the run began at | or >: the whole block scalar is one
    }
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
  std::size_t line_ = 0;
  std::size_t line_start_ = 0;
  std::size_t depth_ = 0;
  bool value_position_ = false;          // just after a `key:` (an anchor or a tag may come between)
  std::optional<std::size_t> run_from_;  // where the bytes since the last space or flow indicator start
  YAML::Mark run_mark_;
  std::optional<std::size_t> lookahead_from_;
  std::size_t lookahead_depth_ = 0;
  YAML::Mark lookahead_mark_;
};

}  // namespace

void check_flow_collections(std::string_view text, std::string_view source) { flow_scanner(text, source).run(); }

}  // namespace detour::config_detail
