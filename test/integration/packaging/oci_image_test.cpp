// scripts/image.sh on a package of this build: the archive's config as skopeo reads it, and the
// binary run inside its unpacked root file system as the image user. Hidden from discovery
// ([.][oci_image]) and registered as `package: ...` by test/CMakeLists.txt, like the .deb's test.
#include "integration/packaging/must_run.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

using namespace detour::test;

namespace {

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string last;
  for (std::string l; std::getline(in, l);) last = l;
  return last;
}

}  // namespace

TEST_CASE("scripts/image.sh makes an OCI archive that runs detourd as user detour", "[.][oci_image]") {
  temp_dir work;
  const auto deb = last_line(must(
      {DETOUR_SOURCE_DIR "/scripts/package.sh", "--dir", DETOUR_BINARY_DIR, "--out", (work.path() / "deb").string()},
      120s));
  const auto archive = (work.path() / "detour_0.1.0_oci.tar").string();
  CHECK(last_line(must({DETOUR_SOURCE_DIR "/scripts/image.sh", "--deb", deb, "--out", archive}, 150s)) == archive);
  const auto size = std::filesystem::file_size(archive);
  WARN("OCI archive: " << size / 1000 << " kB");
  CHECK(size < 80'000'000);

  const auto config = must({"skopeo", "inspect", "--config", "oci-archive:" + archive});
  INFO(config);
  CHECK(config.find(R"("Entrypoint": [
            "/usr/sbin/detourd",
            "run",
            "-c",
            "/etc/detour/detour.yaml"
        ])") != std::string::npos);
  CHECK(config.find(R"("15000/tcp")") != std::string::npos);
  std::smatch user;
  REQUIRE(std::regex_search(config, user, std::regex(R"rx("User": "(\d+):(\d+)")rx")));
  const auto inspect = must({"skopeo", "inspect", "oci-archive:" + archive});
  CHECK(inspect.find(R"("org.opencontainers.image.version": "0.1.0")") != std::string::npos);

  const auto layout = work.path() / "layout";
  std::filesystem::create_directory(layout);
  must({"tar", "-C", layout.string(), "-xf", archive});
  const auto bundle = work.path() / "bundle";
  must({"umoci", "unpack", "--image", layout.string() + ":detour:0.1.0", bundle.string()});
  const auto rootfs = (bundle / "rootfs").string();

  const auto passwd = file_contents(bundle / "rootfs/etc/passwd");
  CHECK(passwd.find("\ndetour:x:" + user[1].str() + ":" + user[2].str() + ":") != std::string::npos);
  CHECK(must({"chroot", rootfs, "/usr/sbin/detourd", "version"}) == "detourd 0.1.0\n");
  CHECK(must({"chroot", "--userspec=" + user[1].str() + ":" + user[2].str(), rootfs, "/usr/sbin/detourd", "check", "-c",
              "/etc/detour/detour.yaml"})
            .ends_with(": ok\n"));
}
