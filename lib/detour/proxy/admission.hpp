#pragma once
#include "detour/config/config.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace detour::proxy {

// The limits in force, with `auto` resolved to a number: what a snapshot admits connections by.
struct admission_limits {
  std::uint64_t max_connections = 0;
  std::optional<std::uint64_t> max_connections_per_source;  // nullopt: off
  unsigned ipv6_source_prefix = 64;
  // How max_connections came about, for the start line: set when it was `auto`.
  std::optional<std::uint64_t> auto_from_nofile;
  friend bool operator==(const admission_limits&, const admission_limits&) = default;
};

// Descriptors one relayed connection is counted at: its two sockets, plus on average one end of
// the pipe pair a direction holds only while bytes are in flight (the pool keeps idle pipes, which
// the reserve covers).
inline constexpr std::uint64_t descriptors_per_connection = 3;

// `auto` for a soft descriptor limit of `nofile` with `workers` workers: (nofile - reserve) / 3,
// where the reserve is 64 (log, admin, netlink, slack) plus 516 per worker (256 pooled idle pipes,
// two descriptors each, and its listeners), capped at half of `nofile`; at least 1.
std::uint64_t auto_max_connections(std::uint64_t nofile, unsigned workers);

// `cfg`'s limits with `auto` resolved against RLIMIT_NOFILE as it is now (read here, so that a
// raise of the soft limit before this call counts) and the number of workers `cfg` runs.
admission_limits resolve_limits(const limits_config& cfg, unsigned workers);

// "max_connections 1000 (auto: RLIMIT_NOFILE 4096, 3 descriptors per connection),
// max_connections_per_source off"; the per-source part names the IPv6 prefix when on.
std::string describe(const admission_limits& l);

// The key a client is counted under: an IPv4 address, or an IPv6 address masked to the prefix.
struct source_key {
  std::array<unsigned char, 16> bytes{};
  bool v6 = false;
  friend bool operator==(const source_key&, const source_key&) = default;
};
source_key source_key_of(const boost::asio::ip::address& a, unsigned ipv6_prefix);
// "10.77.0.3", "2001:db8:1:2::/64" (the prefix only for IPv6 with a prefix below 128).
std::string to_string(const source_key& k, unsigned ipv6_prefix);

class admission;

// One admitted connection's place in the counts: released exactly once, when the ticket is
// destroyed or release() is called, whichever comes first; a moved-from ticket holds nothing.
class admission_ticket {
 public:
  admission_ticket() = default;
  ~admission_ticket() { release(); }
  admission_ticket(admission_ticket&& other) noexcept;
  admission_ticket& operator=(admission_ticket&& other) noexcept;
  admission_ticket(const admission_ticket&) = delete;
  admission_ticket& operator=(const admission_ticket&) = delete;

  void release() noexcept;
  bool held() const { return owner_ != nullptr; }

 private:
  friend class admission;
  admission* owner_ = nullptr;
  std::optional<source_key> source_;  // set when it counts against its source too
};

// The process-wide counts of open connections. The total is one relaxed atomic (an accept costs
// one fetch_add, and one fetch_sub when over); the per-source counts, kept only while that limit is
// on, sit in 64 shards with a mutex each, so workers admitting different clients rarely meet.
class admission {
 public:
  admission() = default;
  admission(const admission&) = delete;
  admission& operator=(const admission&) = delete;

  // A held ticket, or an empty one with `refusal` set to why ("limit: max_connections 5",
  // "limit: max_connections_per_source 2 (10.77.0.3)").
  admission_ticket admit(const admission_limits& limits, const boost::asio::ip::address& source, std::string& refusal);

  // Any thread: connections holding a ticket now.
  std::uint64_t open() const { return open_.load(std::memory_order_relaxed); }
  // Any thread: open connections counted under `key` (0 when none).
  std::uint64_t open_from(const source_key& key) const;

  // For the warning about refusals, at most one a second: true when one may be written now, with
  // how many were held back since the last one in `suppressed`.
  bool warning_due(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed);

 private:
  friend class admission_ticket;
  void release(const std::optional<source_key>& source) noexcept;

  struct key_hash {
    std::size_t operator()(const source_key& k) const noexcept;
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<source_key, std::uint64_t, key_hash> counts;  // only keys with open connections
  };
  static constexpr std::size_t shard_count = 64;
  shard& shard_of(const source_key& k) { return shards_[key_hash{}(k) % shard_count]; }
  const shard& shard_of(const source_key& k) const { return shards_[key_hash{}(k) % shard_count]; }

  std::atomic<std::uint64_t> open_{0};
  std::array<shard, shard_count> shards_;
  std::atomic<std::int64_t> last_warning_{0};  // steady_clock ticks; 0: never
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace detour::proxy
