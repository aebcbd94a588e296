// Boost.JSON is used header-only: its implementation is compiled once, here, instead of linking a
// separately built library (Debian's libboost1.81-dev ships the headers, not libboost_json).
#include <boost/json/src.hpp>
