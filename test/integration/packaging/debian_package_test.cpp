// scripts/package.sh on this build: the .deb's files, control fields and maintainer scripts, the
// binary in it, and lintian's verdict. Hidden from discovery ([.][package]) and registered as
// `package: ...` by test/CMakeLists.txt, so that only the release build makes a package: an ASan
// build's would depend on the sanitizer runtime.
#include "integration/packaging/must_run.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace detour::test;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The package names in a Depends: field, without versions or alternatives' bars.
std::set<std::string> package_names(const std::string& depends) {
  std::set<std::string> out;
  const std::regex name(R"(([a-z0-9][a-z0-9+.-]+)(\s*\([^)]*\))?)");
  for (std::sregex_iterator it(depends.begin(), depends.end(), name), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

}  // namespace

TEST_CASE("scripts/package.sh makes a lintian-clean .deb with the right files, Depends and scripts", "[.][package]") {
  temp_dir out;
  auto made = run_to_completion(
      {DETOUR_SOURCE_DIR "/scripts/package.sh", "--dir", DETOUR_BINARY_DIR, "--out", out.path().string()}, 280s);
  INFO(made.err);
  REQUIRE(made.exit_code == 0);  // lintian found no error: its warnings are in the output above
  const auto deb = lines(made.out).back();
  CHECK(std::filesystem::path(deb).filename() == "detour_0.1.0_amd64.deb");

  // Files: exactly these, directories aside.
  std::set<std::string> files;
  for (const auto& l : lines(must({"dpkg-deb", "--contents", deb}))) {
    const auto path = l.substr(l.rfind(' ') + 1);
    if (!path.ends_with('/')) files.insert(path);
  }
  CHECK(files == std::set<std::string>{
                     "./usr/sbin/detourd", "./lib/systemd/system/detourd.service", "./usr/lib/sysusers.d/detour.conf",
                     "./etc/detour/detour.yaml", "./usr/share/man/man8/detourd.8.gz",
                     "./usr/share/bash-completion/completions/detourd", "./usr/share/doc/detour/README.md",
                     "./usr/share/doc/detour/changelog.gz", "./usr/share/doc/detour/copyright"});

  CHECK(must({"dpkg-deb", "--field", deb, "Package"}) == "detour\n");
  CHECK(must({"dpkg-deb", "--field", deb, "Version"}) == "0.1.0\n");
  CHECK(must({"dpkg-deb", "--field", deb, "Architecture"}) == "amd64\n");

  temp_dir unpacked;
  must({"dpkg-deb", "--raw-extract", deb, unpacked.path().string()});
  const auto root = unpacked.path();

  // Depends: for every shared library the binary links directly (NEEDED), the package dpkg says
  // holds it, by its name or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9, the name
  // its shlibs file gives); and adduser for the postinst.
  const auto depends = package_names(must({"dpkg-deb", "--field", deb, "Depends"}));
  CHECK(depends.count("adduser") == 1);
  const auto binary = (root / "usr/sbin/detourd").string();
  std::map<std::string, std::string> resolved;  // libfoo.so.1 -> its path, as the loader finds it
  for (const auto& l : lines(must({"ldd", binary}))) {
    std::smatch m;
    if (std::regex_search(l, m, std::regex(R"(^\s*(\S+) => (/\S+) \()"))) resolved[m[1]] = m[2];
  }
  std::size_t libraries = 0;
  for (const auto& l : lines(must({"readelf", "--dynamic", binary}))) {
    std::smatch m;
    if (!std::regex_search(l, m, std::regex(R"(\(NEEDED\).*\[(.+)\])"))) continue;
    ++libraries;
    const std::filesystem::path path = resolved.at(m[1]);
    // With merged /usr, dpkg knows a library by the path its package ships, /lib or /usr/lib.
    std::string owner;
    for (const auto& candidate : {path, std::filesystem::path("/usr") / path.relative_path(),
                                  std::filesystem::path("/") / path.lexically_relative("/usr")}) {
      auto run = run_to_completion({"/usr/bin/dpkg-query", "--search", candidate.string()}, 30s);
      if (run.exit_code == 0) {
        owner = run.out.substr(0, run.out.find(':'));
        break;
      }
    }
    INFO(m[1].str() << " at " << path << " is in " << owner);
    REQUIRE(!owner.empty());
    auto names = package_names(must({"dpkg-query", "--show", "--showformat=${Provides}", owner}));
    names.insert(owner);
    CHECK(std::any_of(names.begin(), names.end(), [&](const auto& n) { return depends.count(n) == 1; }));
  }
  CHECK(libraries >= 8);  // nftnl, mnl, fmt, spdlog, yaml-cpp, prometheus-cpp, systemd, cap, libstdc++...

  // The binary is stripped and runs.
  CHECK(must({"file", binary}).find(", stripped") != std::string::npos);
  CHECK(must({binary, "version"}) == "detourd 0.1.0\n");
  CHECK(must({binary, "check", "-c", (root / "etc/detour/detour.yaml").string()}).ends_with(": ok\n"));

  // The unit runs the packaged binary; the config is a conffile.
  const auto unit = file_contents(root / "lib/systemd/system/detourd.service");
  CHECK(unit.find("ExecStart=/usr/sbin/detourd run -c /etc/detour/detour.yaml") != std::string::npos);
  CHECK(unit.find("/usr/local") == std::string::npos);
  CHECK(file_contents(root / "DEBIAN/conffiles") == "/etc/detour/detour.yaml\n");
  CHECK(file_contents(root / "etc/detour/detour.yaml") == file_contents(DETOUR_SOURCE_DIR "/config/detour.yaml"));

  // The maintainer scripts make the user and neither enable nor start the service.
  const auto postinst = file_contents(root / "DEBIAN/postinst");
  CHECK(postinst.find("systemd-sysusers detour.conf") != std::string::npos);
  CHECK(postinst.find("adduser --system") != std::string::npos);
  for (const auto* script : {"postinst", "postrm"}) {
    for (const auto& l : lines(file_contents(root / "DEBIAN" / script))) {
      if (l.starts_with('#')) continue;
      INFO(script << ": " << l);
      CHECK_FALSE(std::regex_search(l, std::regex(R"(systemctl\s.*\b(enable|start|restart)\b|deb-systemd-invoke)")));
    }
  }
  CHECK_FALSE(std::filesystem::exists(root / "etc/systemd"));
}
