#include "detour/config/bounded_yaml.hpp"

#include "detour/config/config_limits.hpp"
#include "detour/config/flow_scan.hpp"
#include "detour/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <istream>
#include <streambuf>
#include <unordered_map>
#include <vector>

namespace detour::config_detail {
namespace {

// yaml-cpp reads from a stream; this one reads the caller's text where it is, without a copy.
class view_buffer : public std::streambuf {
 public:
  explicit view_buffer(std::string_view text) {
    auto* begin = const_cast<char*>(text.data());  // get area only: never written through
    setg(begin, begin, begin + text.size());
  }
};

// Counts what yaml-cpp's events describe and throws at the first bound crossed, so the recursive
// node builder never sees a document outside config_limits.
class bounds_checker : public YAML::EventHandler {
 public:
  explicit bounds_checker(std::string_view source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, nullptr); }

  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    leaf(mark, anchor, &value);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      // Named while its node is still open: the alias would make the tree contain itself.
      fail(source_, mark, "YAML", fmt::format("alias *{} is inside the node it names", name_of(anchor)));
    }
    count(mark, it->second.nodes);
    if (frames_.size() + it->second.height > config_limits::nesting_depth) too_deep(mark);
    child_done(it->second.height, nullptr);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, false);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, true);
  }
  void OnMapEnd() override { close(); }

 private:
  struct extent {
    std::size_t nodes = 0;   // the node and everything under it
    std::size_t height = 0;  // collections from it down to its deepest, itself included
  };
  struct frame {
    bool is_map = false;
    bool expect_key = true;  // maps only
    std::string key;         // maps: the last scalar key, for error messages
    std::size_t index = 0;   // sequences: the next element's index
    std::size_t nodes_before = 0;
    std::size_t height_below = 0;
    YAML::anchor_t anchor = 0;
  };

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, const std::string* value) {
    count(mark, 1);
    if (value && value->size() > config_limits::string_bytes) {
      const bool is_key = !frames_.empty() && frames_.back().is_map && frames_.back().expect_key;
      fail(source_, mark, path_of_next(),
           fmt::format("{}{} bytes, over the limit of {}", is_key ? "a key of " : "", value->size(),
                       config_limits::string_bytes));
    }
    if (anchor != 0) remember(anchor, {1, 0});
    child_done(0, value);
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    const auto before = nodes_;
    count(mark, 1);
    if (frames_.size() + 1 > config_limits::nesting_depth) too_deep(mark);
    frame f;
    f.is_map = is_map;
    f.nodes_before = before;
    f.anchor = anchor;
    if (anchor != 0) names_[anchor] = anchor_name_;
    frames_.push_back(std::move(f));
  }

  void close() {
    const frame f = std::move(frames_.back());
    frames_.pop_back();
    const extent e{nodes_ - f.nodes_before, f.height_below + 1};
    if (f.anchor != 0) remember(f.anchor, e);
    child_done(e.height, nullptr);
  }

  void count(const YAML::Mark& mark, std::size_t n) {
    nodes_ += n;
    if (nodes_ > config_limits::yaml_nodes) {
      fail(source_, mark, "YAML",
           fmt::format("too many nodes (limit {}; an alias counts the nodes it names)", config_limits::yaml_nodes));
    }
  }

  [[noreturn]] void too_deep(const YAML::Mark& mark) const {
    fail(source_, mark, "YAML", fmt::format("nested too deep (limit {})", config_limits::nesting_depth));
  }

  void remember(YAML::anchor_t anchor, extent e) {
    anchors_[anchor] = e;
    if (!names_.contains(anchor)) names_[anchor] = anchor_name_;
  }

  std::string name_of(YAML::anchor_t anchor) const {
    auto it = names_.find(anchor);
    return it == names_.end() ? std::to_string(anchor) : it->second;
  }

  // The parent learns that one child ended: its height, and for a map key, the key's text.
  void child_done(std::size_t height, const std::string* scalar) {
    if (frames_.empty()) return;
    auto& parent = frames_.back();
    parent.height_below = std::max(parent.height_below, height);
    if (!parent.is_map) {
      ++parent.index;
      return;
    }
    if (parent.expect_key) parent.key = scalar ? *scalar : std::string("?");
    parent.expect_key = !parent.expect_key;
  }

  // The dotted key path of the node about to be added (its parent's, for a map key), as the
  // section readers name keys.
  std::string path_of_next() const {
    std::string path;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const auto& f = frames_[i];
      const bool last = i + 1 == frames_.size();
      if (f.is_map) {
        if (last && f.expect_key) break;
        if (!path.empty()) path += '.';
        path += f.key;
      } else {
        // Elements are counted as they end, so the open one, or the next, is at `index`.
        path += fmt::format("[{}]", f.index);
      }
    }
    return path.empty() ? std::string("(top level)") : path;
  }

  std::string_view source_;
  std::vector<frame> frames_;
  std::size_t nodes_ = 0;
  std::string anchor_name_;
  std::unordered_map<YAML::anchor_t, extent> anchors_;  // closed anchored nodes only
  std::unordered_map<YAML::anchor_t, std::string> names_;
};

}  // namespace

YAML::Node load_bounded_yaml(std::string_view text, std::string_view source) {
  check_flow_collections(text, source);
  try {
    {
      view_buffer buffer(text);
      std::istream in(&buffer);
      YAML::Parser parser(in);
      bounds_checker checker(source);
      parser.HandleNextDocument(checker);
    }
    view_buffer buffer(text);
    std::istream in(&buffer);
    return YAML::Load(in);
  } catch (const YAML::Exception& e) {
    fail(source, e.mark, "YAML", e.msg);
  }
}

}  // namespace detour::config_detail
