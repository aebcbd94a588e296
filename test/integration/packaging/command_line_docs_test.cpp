// The man page and the bash completion against the binary: both are written by hand, so these tests
// keep them from drifting from what `detourd SUBCOMMAND --help` says. The page is also rendered,
// the way `man` shows it, with groff's warnings on.
#include "support/detourd_process.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace detour::test;

namespace {

using names = std::set<std::string>;

const std::filesystem::path source_dir = DETOUR_SOURCE_DIR;

// Every subcommand as a user types it, `rules` by its own subcommands.
const std::vector<std::string> commands{"run",    "check",       "rules show", "rules install", "rules remove",
                                        "status", "connections", "doctor",     "reload",        "version"};

std::vector<std::string> words(const std::string& command) {
  std::vector<std::string> out;
  std::istringstream in(command);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The options CLI11 lists under "Options:" (`  -c,--config TEXT  ...`), without -h/--help, which
// every subcommand has and the page documents once.
names help_options(const std::string& command) {
  auto args = words(command);
  args.emplace_back("--help");
  auto run = run_detourd(args);
  REQUIRE(run.exit_code == 0);
  names found;
  std::istringstream in(run.out);
  const std::regex option(R"(^  (-[^ ]+))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, option)) continue;
    std::istringstream spellings(m[1].str());
    for (std::string s; std::getline(spellings, s, ',');) {
      if (s != "-h" && s != "--help") found.insert(s);
    }
  }
  return found;
}

// The subcommands CLI11 lists under "Subcommands:" (`  run    Run the proxy...`).
names help_subcommands(const std::vector<std::string>& command) {
  auto args = command;
  args.emplace_back("--help");
  auto run = run_detourd(args);
  REQUIRE(run.exit_code == 0);
  names found;
  std::istringstream in(run.out);
  bool listing = false;
  const std::regex entry(R"(^  ([a-z]+)( |$))");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Subcommands:")) {
      listing = true;
      continue;
    }
    std::smatch m;
    if (listing && std::regex_search(line, m, entry)) {
      found.insert(m[1]);
    } else if (listing && !line.starts_with("  ")) {
      listing = false;
    }
  }
  return found;
}

// The page's COMMANDS section: `## SUBCOMMAND` headings, each followed by option definitions,
// lines beginning `*-` (`*-c*, *--config* _FILE_`).
std::map<std::string, names> man_page_options() {
  std::istringstream in(file_contents(source_dir / "docs/man/detourd.8.scd"));
  std::map<std::string, names> found;
  std::string section;
  std::string command;
  const std::regex spelling(R"(\*(-{1,2}[a-z][a-z-]*)\*)");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# ")) {
      section = line.substr(2);
      command.clear();
    } else if (section == "COMMANDS" && line.starts_with("## ")) {
      command = line.substr(3);
      found[command];
    } else if (!command.empty() && line.starts_with("*-")) {
      for (std::sregex_iterator it(line.begin(), line.end(), spelling), end; it != end; ++it) {
        found[command].insert((*it)[1]);
      }
    }
  }
  return found;
}

// What the completion offers after `detourd WORDS... CUR`, asked of bash itself with the
// bash-completion framework loaded, as an interactive shell would.
names completions(const std::vector<std::string>& typed) {
  std::string line = "detourd";
  for (const auto& w : typed) line += " " + w;
  const auto script = fmt::format(
      "source /usr/share/bash-completion/bash_completion\n"
      "source {}\n"
      "COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}\n"
      "read -ra COMP_WORDS <<< \"$COMP_LINE\"\n"
      "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
      "COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
      "_detourd detourd \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n"
      "printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
      (source_dir / "packaging/detourd.bash-completion").string(), line);
  auto run = run_to_completion({"/bin/bash", "-c", script}, 20s);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  names found;
  std::istringstream in(run.out);
  for (std::string w; std::getline(in, w);) {
    if (!w.empty() && w != "-h" && w != "--help") found.insert(w);
  }
  return found;
}

std::string joined(const names& set) {
  std::string out;
  for (const auto& n : set) out += (out.empty() ? "" : " ") + n;
  return out;
}

}  // namespace

TEST_CASE("the man page documents every subcommand and option --help lists, and no other", "[packaging]") {
  const auto page = man_page_options();
  names page_commands;
  for (const auto& [command, options] : page) page_commands.insert(command);
  CHECK(joined(page_commands) == joined(names(commands.begin(), commands.end())));

  names top;
  for (const auto& c : page_commands) top.insert(words(c).front());
  CHECK(joined(help_subcommands({})) == joined(top));
  CHECK(joined(help_subcommands({"rules"})) == "install remove show");

  for (const auto& command : commands) {
    INFO("detourd " << command);
    CHECK(joined(page.count(command) ? page.at(command) : names{}) == joined(help_options(command)));
  }
}

TEST_CASE("the man page renders with man and groff without a warning, with every section", "[packaging]") {
  auto run = run_to_completion(
      {"/usr/bin/env", "LC_ALL=C.UTF-8", "MANWIDTH=80", "/usr/bin/man", "--warnings", "-l", DETOUR_MAN_PAGE}, 30s);
  CHECK(run.exit_code == 0);
  CHECK(run.err.empty());
  for (const auto* heading : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "CONFIGURATION", "SIGNALS",
                              "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"}) {
    INFO(heading);
    CHECK(run.out.find(fmt::format("\n{}\n", heading)) != std::string::npos);
  }
  CHECK(run.out.find("detourd - transparent TCP proxy daemon") != std::string::npos);
}

TEST_CASE("bash completion offers the subcommands and each one's options as --help lists them", "[packaging]") {
  names top;
  for (const auto& c : commands) top.insert(words(c).front());
  CHECK(joined(completions({""})) == joined(top));
  CHECK(joined(completions({"rules", ""})) == "install remove show");
  for (const auto& command : commands) {
    INFO("detourd " << command);
    auto typed = words(command);
    typed.emplace_back("-");
    CHECK(joined(completions(typed)) == joined(help_options(command)));
  }
  CHECK(joined(completions({"run", "--mode", ""})) == "direct echo reject");
  // After -c, a file name: the completion offers what is in the directory.
  CHECK(completions({"check", "-c", fmt::format("{}/config/detour.y", source_dir.string())})
            .count(fmt::format("{}/config/detour.yaml", source_dir.string())) == 1);
}
