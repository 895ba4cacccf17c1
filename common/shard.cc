#include "common/shard.h"

#include <cctype>

namespace observer {

std::string Shard::text() const { return std::to_string(index) + "/" + std::to_string(count); }

namespace {

// A decimal number of at most 9 digits (no sign, no space): far past
// kMaxShards, so no overflow, and a clear "out of range" rather than
// "invalid" for 1001.
bool parse_small_number(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 9) return false;
  uint32_t n = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  *out = n;
  return true;
}

}  // namespace

bool parse_shard(std::string_view text, Shard* out, std::string* why) {
  size_t slash = text.find('/');
  Shard s;
  if (slash == std::string_view::npos || !parse_small_number(text.substr(0, slash), &s.index) ||
      !parse_small_number(text.substr(slash + 1), &s.count)) {
    *why = "invalid shard \"" + std::string(text) + "\" (I/N: this instance is shard I of N, e.g. 0/3)";
    return false;
  }
  if (s.count < 1 || s.count > kMaxShards) {
    *why = "the number of shards N in \"" + std::string(text) + "\" must be from 1 to " + std::to_string(kMaxShards);
    return false;
  }
  if (s.index >= s.count) {
    *why = "the index I in \"" + std::string(text) + "\" must be below N (shards are numbered 0 to " +
           std::to_string(s.count - 1) + ")";
    return false;
  }
  *out = s;
  return true;
}

uint64_t shard_seed(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a-64 offset basis
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV-1a-64 prime
  }
  return h;
}

uint64_t shard_weight(uint64_t seed, uint32_t j) {
  // SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference constants).
  uint64_t z = seed + (static_cast<uint64_t>(j) + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t owner_shard(std::string_view name, uint32_t count) {
  uint64_t seed = shard_seed(name);
  uint32_t best = 0;
  uint64_t best_weight = shard_weight(seed, 0);
  for (uint32_t j = 1; j < count; ++j) {
    uint64_t w = shard_weight(seed, j);
    if (w > best_weight) {
      best = j;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace observer
