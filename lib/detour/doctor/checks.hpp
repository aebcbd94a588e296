#pragma once
// The checks of `detourd doctor`, each a pure function from what a probe read to one finding.
//
// The check list, in the order printed, with what each FAIL or WARN asks for:
//
//  nftables nat          A table with a nat output chain and a redirect rule is created in a
//                        throw-away network namespace (never in the host's). FAIL when the kernel
//                        refuses it; fix: load nf_tables, nft_chain_nat and nft_redir (modprobe), or a
//                        kernel built with CONFIG_NFT_NAT and CONFIG_NFT_REDIR.
//  original destination  Per family, in the same namespace: a connection to 127.0.0.1:9 / [::1]:9
//  ipv4 / ipv6           is redirected to a listener, which reads SO_ORIGINAL_DST and must get
//                        port 9 back. FAIL when not; fix: nf_conntrack and nf_nat for that family.
//                        WARN when the host has no IPv6 at all (IPv4 capture still works).
//  conntrack             nf_conntrack loaded (/proc/sys/net/netfilter/nf_conntrack_max). FAIL;
//                        fix: modprobe nf_conntrack.
//  capabilities          CAP_NET_ADMIN effective (rules, SO_MARK), and CAP_NET_BIND_SERVICE when
//                        `port` is below net.ipv4.ip_unprivileged_port_start. FAIL; fix: run as
//                        root or grant them (AmbientCapabilities= in the systemd unit).
//  descriptors           RLIMIT_NOFILE: detourd raises the soft limit to the hard one at start,
//                        and a connection costs up to 4 descriptors. WARN under 4096 connections;
//                        fix: LimitNOFILE=1048576 in the unit, or a higher `ulimit -Hn`.
//  pipe buffers          fs.pipe-user-pages-soft against the pages two 256 KiB pipes take per
//                        relay moving bytes. Over the limit new pipes get 2 pages and F_SETPIPE_SZ
//                        fails, so transfers slow down. WARN under 1024 relays; fix: sysctl -w
//                        fs.pipe-user-pages-soft=N (0: no limit).
//  conntrack table       nf_conntrack_count against nf_conntrack_max. WARN over 80 %; once full,
//                        new connections are dropped; fix: sysctl -w net.netfilter.nf_conntrack_max.
//  local ports           net.ipv4.ip_local_port_range. WARN under 16384 ports, which bound the
//                        connections open at once to one destination; fix: sysctl -w
//                        net.ipv4.ip_local_port_range="1024 65535".
//  other nat chains      nat chains of other tables on the output or prerouting hook with a
//                        priority below intercept.priority see connections first, and a redirect
//                        or dnat there wins. WARN naming them; fix: make sure they leave the
//                        traffic detourd captures alone, or move intercept.priority below theirs.
#include "detour/config/config.hpp"
#include "detour/doctor/probe_results.hpp"
#include "detour/doctor/report.hpp"

#include <cstdint>
#include <optional>

namespace detour::doctor {

// Descriptors one relayed connection may hold: its two sockets and, while bytes are in flight, a
// pipe (two descriptors).
inline constexpr std::uint64_t descriptors_per_connection = 4;
inline constexpr std::uint64_t wanted_connections = 4096;
inline constexpr std::uint64_t wanted_relays = 1024;
inline constexpr std::uint64_t wanted_local_ports = 16384;
inline constexpr double conntrack_warn_ratio = 0.8;

finding check_nat(const namespace_probe_result& r);
// `ipv6` picks the family.
finding check_original_destination(const namespace_probe_result& r, bool ipv6);
// nf_conntrack_max as read; nullopt when the file is absent (conntrack not loaded).
finding check_conntrack_present(const std::optional<std::uint64_t>& conntrack_max);
finding check_capabilities(std::uint64_t effective, const config& cfg, std::uint16_t unprivileged_port_start);
finding check_descriptors(const descriptor_limits& limits);
finding check_pipe_pages(const pipe_page_budget& budget);
finding check_conntrack_load(std::uint64_t count, std::uint64_t max);
finding check_local_ports(std::uint32_t low, std::uint32_t high);
finding check_other_nat_chains(const nat_chain_listing& listing, const config& cfg);

}  // namespace detour::doctor
