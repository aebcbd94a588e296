#include "detour/proxy/admission.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <thread>

namespace detour::proxy {

std::uint64_t auto_max_connections(std::uint64_t nofile, unsigned workers) {
  const std::uint64_t reserve = std::min<std::uint64_t>(64 + std::uint64_t{516} * workers, nofile / 2);
  return std::max<std::uint64_t>(1, (nofile - reserve) / descriptors_per_connection);
}

admission_limits resolve_limits(const limits_config& cfg, unsigned workers) {
  admission_limits out;
  out.max_connections_per_source = cfg.max_connections_per_source;
  out.ipv6_source_prefix = cfg.ipv6_source_prefix;
  if (cfg.max_connections) {
    out.max_connections = *cfg.max_connections;
    return out;
  }
  rlimit limit{};
  // Without an answer, the kernel's usual default soft limit.
  const std::uint64_t nofile = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                                   ? static_cast<std::uint64_t>(limit.rlim_cur)
                                   : 1024;
  const unsigned count = workers != 0 ? workers : std::max(1U, std::thread::hardware_concurrency());
  out.max_connections = auto_max_connections(nofile, count);
  out.auto_from_nofile = nofile;
  return out;
}

std::string describe(const admission_limits& l) {
  auto text = fmt::format("max_connections {}", l.max_connections);
  if (l.auto_from_nofile) {
    text += fmt::format(" (auto: RLIMIT_NOFILE {}, {} descriptors per connection)", *l.auto_from_nofile,
                        descriptors_per_connection);
  }
  if (l.max_connections_per_source) {
    text += fmt::format(", max_connections_per_source {} (IPv6 by /{})", *l.max_connections_per_source,
                        l.ipv6_source_prefix);
  } else {
    text += ", max_connections_per_source off";
  }
  return text;
}

source_key source_key_of(const boost::asio::ip::address& a, unsigned ipv6_prefix) {
  source_key k;
  const auto plain =
      a.is_v6() && a.to_v6().is_v4_mapped()
          ? boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()))
          : a;
  if (plain.is_v4()) {
    const auto bytes = plain.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), k.bytes.begin());
    return k;
  }
  k.v6 = true;
  const auto bytes = plain.to_v6().to_bytes();
  const unsigned prefix = std::min(ipv6_prefix, 128U);
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bits = prefix > i * 8 ? std::min(8U, prefix - i * 8) : 0;
    const auto mask = static_cast<unsigned char>(bits == 0 ? 0 : 0xffU << (8 - bits));
    k.bytes[i] = static_cast<unsigned char>(bytes[i] & mask);
  }
  return k;
}

std::string to_string(const source_key& k, unsigned ipv6_prefix) {
  if (!k.v6) {
    boost::asio::ip::address_v4::bytes_type b{};
    std::copy_n(k.bytes.begin(), b.size(), b.begin());
    return boost::asio::ip::address_v4(b).to_string();
  }
  boost::asio::ip::address_v6::bytes_type b{};
  std::copy(k.bytes.begin(), k.bytes.end(), b.begin());
  auto text = boost::asio::ip::address_v6(b).to_string();
  if (ipv6_prefix < 128) text += fmt::format("/{}", ipv6_prefix);
  return text;
}

admission_ticket::admission_ticket(admission_ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), source_(other.source_) {
  other.source_.reset();
}

admission_ticket& admission_ticket::operator=(admission_ticket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    source_ = other.source_;
    other.source_.reset();
  }
  return *this;
}

void admission_ticket::release() noexcept {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->release(source_);
  source_.reset();
}

std::size_t admission::key_hash::operator()(const source_key& k) const noexcept {
  // FNV-1a: the keys are addresses, often differing only in their last bytes.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto b : k.bytes) h = (h ^ b) * 0x100000001b3ULL;
  return static_cast<std::size_t>(h ^ (k.v6 ? 1U : 0U));
}

admission_ticket admission::admit(const admission_limits& limits, const boost::asio::ip::address& source,
                                  std::string& refusal) {
  // Counted first and taken back when over: a check before the add would let two workers both see
  // room for the last place.
  if (open_.fetch_add(1, std::memory_order_relaxed) >= limits.max_connections) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    refusal = fmt::format("limit: max_connections {}", limits.max_connections);
    return {};
  }
  admission_ticket ticket;
  ticket.owner_ = this;
  if (!limits.max_connections_per_source) return ticket;
  auto key = source_key_of(source, limits.ipv6_source_prefix);
  auto& s = shard_of(key);
  {
    std::lock_guard lock(s.mutex);
    auto& count = s.counts[key];
    if (count >= *limits.max_connections_per_source) {
      if (count == 0) s.counts.erase(key);
      refusal = fmt::format("limit: max_connections_per_source {} ({})", *limits.max_connections_per_source,
                            to_string(key, limits.ipv6_source_prefix));
      ticket.release();
      return ticket;
    }
    ++count;
  }
  ticket.source_ = key;
  return ticket;
}

void admission::release(const std::optional<source_key>& source) noexcept {
  if (source) {
    auto& s = shard_of(*source);
    std::lock_guard lock(s.mutex);
    // A ticket with a source was counted in its shard, so the entry is there.
    auto it = s.counts.find(*source);
    if (it != s.counts.end() && --it->second == 0) s.counts.erase(it);
  }
  open_.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t admission::open_from(const source_key& key) const {
  const auto& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.counts.find(key);
  return it == s.counts.end() ? 0 : it->second;
}

bool admission::warning_due(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed) {
  const auto ticks = now.time_since_epoch().count();
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(1)).count();
  auto last = last_warning_.load(std::memory_order_relaxed);
  if (last != 0 && ticks - last < period) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // One of the threads racing past the second gets it; the others count as suppressed.
  if (!last_warning_.compare_exchange_strong(last, ticks, std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace detour::proxy
