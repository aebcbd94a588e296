# Every dependency is a Debian 12 package; scripts/install-deps.sh installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS headers)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
# Only the core (registry, collectables, text serializer): the admin endpoint serves /metrics itself.
find_package(prometheus-cpp REQUIRED CONFIG COMPONENTS core)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBNFTNL REQUIRED IMPORTED_TARGET libnftnl)
pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# drop_privileges: capability sets read and written as a whole, with their names for messages.
pkg_check_modules(LIBCAP REQUIRED IMPORTED_TARGET libcap)
