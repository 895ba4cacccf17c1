// Shards: which instance of several probes a target. `shard=I/N` makes this
// instance shard I of N; a target belongs to the shard that rendezvous
// (highest-random-weight) hashing of its name picks, so every instance
// reading the same file agrees on the split without talking to the others,
// and going from N to N+1 shards moves only the targets that shard N wins
// (about 1/(N+1) of them) while every other target stays where it was.
//
// The weight is stable across versions, machines and byte orders (it is
// part of what users deploy; changing it moves targets between shards):
//   seed     = FNV-1a-64 of the name's bytes
//   weight_j = SplitMix64's output for the state seed + (j + 1) * 0x9E3779B97F4A7C15
// i.e. the (j+1)-th output of a SplitMix64 stream seeded with the name's
// FNV-1a hash. FNV-1a alone mixes short names poorly; SplitMix64's finalizer
// spreads every bit of it. The owner is the j with the highest weight; a tie
// (one in 2^64) goes to the lower j.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace observer {

struct Shard {
  uint32_t index = 0;  // I: 0 <= index < count
  uint32_t count = 1;  // N: 1 <= count <= kMaxShards

  bool operator==(const Shard& o) const { return index == o.index && count == o.count; }
  std::string text() const;  // "I/N"
};

constexpr uint32_t kMaxShards = 1000;

// Parses "I/N" (decimal digits only). On failure `why` says what is wrong
// without naming where the value came from (the caller does).
bool parse_shard(std::string_view text, Shard* out, std::string* why);

// FNV-1a-64 of `name`: the seed of its weights, computed once per target.
uint64_t shard_seed(std::string_view name);
// The weight of shard `j` for a target whose seed is `seed`.
uint64_t shard_weight(uint64_t seed, uint32_t j);
// The shard (0..count-1) that owns a target named `name`; count >= 1.
uint32_t owner_shard(std::string_view name, uint32_t count);
inline bool owns(const Shard& shard, std::string_view name) { return owner_shard(name, shard.count) == shard.index; }

}  // namespace observer
