# What `cmake --install` puts where, and the Debian package CPack makes of it
# (`cmake --build build --target package`, or scripts/package.sh, which also runs lintian).
#
# The package installs under /usr, with the system's own places for the rest: the unit in
# /lib/systemd/system, the config in /etc/detour. A plain `cmake --install` under another prefix
# (/usr/local by default) keeps everything under that prefix. The choice is made at install time,
# because CPack installs with its own prefix (CPACK_PACKAGING_INSTALL_PREFIX), not the configured one.

install(FILES packaging/detourd.bash-completion DESTINATION share/bash-completion/completions RENAME detourd)
install(FILES README.md DESTINATION share/doc/detour)
install(FILES packaging/copyright DESTINATION share/doc/detour)
install(CODE "set(DETOUR_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")\nset(DETOUR_BINARY_DIR \"${PROJECT_BINARY_DIR}\")")
install(CODE [[
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(detour_unit_dir /lib/systemd/system)
    set(detour_etc_dir /etc/detour)
  else()
    set(detour_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
    set(detour_etc_dir "${CMAKE_INSTALL_PREFIX}/etc/detour")
  endif()
  # The unit runs the binary, with the config, where this install put them.
  file(READ "${DETOUR_SOURCE_DIR}/packaging/detourd.service" detour_unit)
  string(REPLACE "/usr/local/sbin/detourd" "${CMAKE_INSTALL_PREFIX}/sbin/detourd" detour_unit "${detour_unit}")
  string(REPLACE "/etc/detour/detour.yaml" "${detour_etc_dir}/detour.yaml" detour_unit "${detour_unit}")
  file(MAKE_DIRECTORY "${DETOUR_BINARY_DIR}/packaging")
  file(WRITE "${DETOUR_BINARY_DIR}/packaging/detourd.service" "${detour_unit}")
  file(INSTALL DESTINATION "${detour_unit_dir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${DETOUR_BINARY_DIR}/packaging/detourd.service")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" TYPE FILE RENAME detour.conf
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${DETOUR_SOURCE_DIR}/packaging/detour.sysusers")
  # The documented defaults, every key with what it means: the same file detourd has built in.
  file(INSTALL DESTINATION "${detour_etc_dir}" TYPE FILE RENAME detour.yaml
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${DETOUR_SOURCE_DIR}/config/detour.yaml")
  # Debian's changelog, compressed without a name or time stamp (reproducible).
  execute_process(COMMAND gzip -9n -c "${DETOUR_SOURCE_DIR}/packaging/changelog"
                  OUTPUT_FILE "${DETOUR_BINARY_DIR}/packaging/changelog.gz" COMMAND_ERROR_IS_FATAL ANY)
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/share/doc/detour" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${DETOUR_BINARY_DIR}/packaging/changelog.gz")
]])

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME detour)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "transparent TCP proxy daemon for nftables redirect")
# The body under the summary line; CPack indents it and turns empty lines into Debian's " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "detourd installs its own nftables rules (nat output and prerouting, in a table
the kernel removes when the daemon dies), recovers each redirected
connection's original destination with SO_ORIGINAL_DST and relays it with
splice(2): straight there, through a SOCKS5 or HTTP CONNECT proxy chosen by
address, port and server name, or back to the client as an echo line.

It logs and counts every connection (Prometheus metrics, an access log, a
live connection list) and is configured by one YAML file.

The service is installed but neither enabled nor started: capturing a
host's traffic is the administrator's decision.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "detour developers <detour@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages, from dpkg-shlibdeps; adduser for the postinst where
# systemd-sysusers is missing (a container image).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nftables")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/conffiles;${PROJECT_SOURCE_DIR}/packaging/postinst;${PROJECT_SOURCE_DIR}/packaging/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
