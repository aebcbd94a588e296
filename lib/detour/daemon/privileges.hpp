#pragma once
#include "detour/config/config.hpp"

namespace detour::daemon {

// Becomes `who` (its uid, and its gid as the only group) keeping exactly CAP_NET_ADMIN, plus
// CAP_NET_BIND_SERVICE when `keep_bind_service`, in the permitted and effective sets, with nothing
// inheritable or ambient, and checks the result by reading the sets back. CAP_NET_ADMIN is what
// the rest of detourd's life needs: SO_MARK on upstream sockets, and the netlink socket that
// replaces or lists the owned table. Already running as `who` (systemd's User= with
// AmbientCapabilities=), it only narrows the sets. Throws startup_error, naming the user.
//
// Capabilities belong to a thread, not to the process: a thread started earlier would keep all of
// them, so this refuses to run once a second thread exists.
void drop_privileges(const run_as_config& who, bool keep_bind_service);

}  // namespace detour::daemon
