#include "detour/upstream/failure_kind.hpp"

#include <cerrno>

namespace detour::upstream {

std::string_view to_string(failure_kind kind) {
  switch (kind) {
    case failure_kind::none:
      return "none";
    case failure_kind::timeout:
      return "timeout";
    case failure_kind::refused:
      return "refused";
    case failure_kind::unreachable:
      return "unreachable";
    case failure_kind::proxy_refused:
      return "proxy refused";
    case failure_kind::proxy_error:
      return "proxy error";
    case failure_kind::local:
      return "local";
    case failure_kind::no_descriptors:
      return "no descriptors";
    case failure_kind::no_ports:
      return "no local ports";
    case failure_kind::conntrack_full:
      return "conntrack full";
    case failure_kind::cancelled:
      return "cancelled";
    case failure_kind::other:
      break;
  }
  return "error";
}

failure_kind kind_of_errno(int error) {
  switch (error) {
    case ECONNREFUSED:
      return failure_kind::refused;
    case ETIMEDOUT:
      return failure_kind::timeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return failure_kind::unreachable;
    case ECANCELED:
      return failure_kind::cancelled;
    case EMFILE:
    case ENFILE:
      return failure_kind::no_descriptors;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
      return failure_kind::no_ports;
    case ENOBUFS:
    case ENOMEM:
      return failure_kind::local;
    default:
      return failure_kind::other;
  }
}

}  // namespace detour::upstream
