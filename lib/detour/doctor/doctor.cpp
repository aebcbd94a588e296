#include "detour/doctor/doctor.hpp"

#include "detour/doctor/checks.hpp"
#include "detour/doctor/namespace_probe.hpp"
#include "detour/doctor/nat_chains.hpp"
#include "detour/doctor/proc_values.hpp"
#include "detour/relay/pipe_pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace detour::doctor {
namespace {

using namespace std::chrono_literals;

// Creating a namespace and a table takes milliseconds; a kernel loading modules on demand may
// take a second or two.
constexpr auto namespace_probe_timeout = 10s;
// The kernel's default for net.ipv4.ip_unprivileged_port_start.
constexpr std::uint16_t default_unprivileged_port_start = 1024;

pipe_page_budget pipe_budget(std::uint64_t caps) {
  pipe_page_budget b;
  b.soft_limit_pages = read_number("/proc/sys/fs/pipe-user-pages-soft").value_or(0);
  // The limit is counted per user, over all of its processes. detourd runs as the user running
  // this, for now; once `user:` is in the config, the exemption below is that user's (none after
  // the privilege drop, which keeps only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE).
  b.exempt = has_capability(caps, cap_sys_resource) || has_capability(caps, cap_sys_admin);
  b.page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  b.pipe_size = relay::pipe_pool::default_pipe_size;
  return b;
}

}  // namespace

std::vector<finding> examine_host(const config& cfg) {
  std::vector<finding> out;
  // First, since creating a nat chain makes the kernel load nf_conntrack when it is a module.
  auto probe = probe_in_throwaway_namespace(cfg.intercept.priority, namespace_probe_timeout);
  out.push_back(check_nat(probe));
  out.push_back(check_original_destination(probe, false));
  out.push_back(check_original_destination(probe, true));

  auto conntrack_max = read_number("/proc/sys/net/netfilter/nf_conntrack_max");
  out.push_back(check_conntrack_present(conntrack_max));

  auto caps = effective_capabilities();
  auto port_start =
      read_number("/proc/sys/net/ipv4/ip_unprivileged_port_start").value_or(default_unprivileged_port_start);
  out.push_back(check_capabilities(caps, cfg, static_cast<std::uint16_t>(std::min<std::uint64_t>(port_start, 65535))));
  out.push_back(check_descriptors(read_descriptor_limits()));
  out.push_back(check_pipe_pages(pipe_budget(caps)));
  if (conntrack_max) {
    out.push_back(
        check_conntrack_load(read_number("/proc/sys/net/netfilter/nf_conntrack_count").value_or(0), *conntrack_max));
  }
  auto ports = read_number_pair("/proc/sys/net/ipv4/ip_local_port_range").value_or(std::pair{0, 0});
  out.push_back(check_local_ports(static_cast<std::uint32_t>(ports.first), static_cast<std::uint32_t>(ports.second)));
  out.push_back(check_other_nat_chains(list_nat_chains(), cfg));
  return out;
}

int doctor_command(const config& cfg, std::ostream& out) {
  auto findings = examine_host(cfg);
  print_report(findings, out);
  return exit_status(findings);
}

}  // namespace detour::doctor
