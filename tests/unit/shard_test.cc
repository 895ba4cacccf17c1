// Shards (common/shard.h): the I/N syntax and its errors, the rendezvous
// hash's stability, and what moving from N to N+1 shards moves.
#include "cmocka_prelude.h"
#include "common/config.h"
#include "common/shard.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

using namespace observer;

namespace {

std::vector<std::string> names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("target-" + std::to_string(i));
  return out;
}

std::string parse_error(const char* text) {
  Shard s;
  std::string why;
  if (parse_shard(text, &s, &why)) fail_msg("\"%s\" parsed", text);
  return why;
}

void shard_syntax_is_i_of_n_with_i_below_n(void**) {
  Shard s;
  std::string why;
  assert_true(parse_shard("0/1", &s, &why));
  assert_true(s == (Shard{0, 1}));
  assert_true(parse_shard("2/3", &s, &why));
  assert_true(s == (Shard{2, 3}));
  assert_string_equal(s.text().c_str(), "2/3");
  assert_true(parse_shard("999/1000", &s, &why));
  for (const char* bad : {"", "1", "/3", "1/", "-1/3", "1/-3", " 1/3", "1/3 ", "a/3", "1/3/4", "+1/3"})
    assert_non_null(strstr(parse_error(bad).c_str(), "invalid shard"));
  assert_non_null(strstr(parse_error("3/3").c_str(), "must be below N (shards are numbered 0 to 2)"));
  assert_non_null(strstr(parse_error("0/0").c_str(), "from 1 to 1000"));
  assert_non_null(strstr(parse_error("0/1001").c_str(), "from 1 to 1000"));
  assert_non_null(strstr(parse_error("0/99999999999").c_str(), "invalid shard"));
}

// The weights are part of every deployment: a change would move targets
// between shards on upgrade. These values pin FNV-1a-64 + SplitMix64.
void weights_are_stable(void**) {
  assert_int_equal(shard_seed(""), 0xcbf29ce484222325ULL);
  assert_int_equal(shard_seed("a"), 0xaf63dc4c8601ec8cULL);
  // SplitMix64 seeded with 0: its first output is Vigna's reference value.
  assert_int_equal(shard_weight(0, 0), 0xe220a8397b1dcdafULL);
  assert_int_equal(owner_shard("anything", 1), 0);
}

void every_target_has_exactly_one_owner(void**) {
  std::vector<std::string> all = names(3000);
  std::vector<size_t> per(3);
  for (const std::string& n : all) {
    int owners = 0;
    for (uint32_t i = 0; i < 3; ++i) owners += owns(Shard{i, 3}, n) ? 1 : 0;
    assert_int_equal(owners, 1);
    ++per[owner_shard(n, 3)];
  }
  // Balanced: each shard within 10% of a third.
  for (size_t c : per) assert_in_range(c, 900, 1100);
}

// Going from 3 to 4 shards moves only the targets shard 3 wins (about a
// quarter), each to shard 3; going back returns exactly those.
void three_to_four_moves_a_quarter_and_four_to_three_moves_them_back(void**) {
  std::vector<std::string> all = names(10000);
  std::set<std::string> moved;
  for (const std::string& n : all) {
    uint32_t before = owner_shard(n, 3), after = owner_shard(n, 4);
    if (before == after) continue;
    assert_int_equal(after, 3);
    moved.insert(n);
  }
  assert_in_range(moved.size(), 2000, 3000);
  // 4 -> 3: shard 3's targets are exactly the ones that moved, and they are
  // spread over the three left; every other target stays where it is.
  std::set<std::string> back;
  std::vector<size_t> landed(3);
  for (const std::string& n : all) {
    if (owner_shard(n, 4) != 3) {
      assert_int_equal(owner_shard(n, 3), owner_shard(n, 4));
      continue;
    }
    back.insert(n);
    ++landed[owner_shard(n, 3)];
  }
  assert_true(back == moved);
  for (size_t c : landed) assert_in_range(c, moved.size() / 4, moved.size() / 2);
}

// The config layer: shard= is a process-wide key (flag, env, file), and the
// other shards' targets are loaded and checked but kept apart.
void config_splits_targets_and_checks_every_section(void**) {
  Invocation inv;
  std::string err;
  std::vector<std::string> args = {"-url=http://127.0.0.1:1/"};
  assert_true(load_invocation(args, {{"OBSERVER_SHARD", "1/2"}}, &inv, &err));
  assert_true(inv.config.global.shard == (Shard{1, 2}));
  assert_int_equal(inv.config.configured_targets(), 1);
  assert_int_equal(inv.config.targets.size() + inv.config.elsewhere.size(), 1);
  // Sections split; a bad value in a section this shard does not own is
  // still an error, whichever shard loads the file.
  std::string text;
  for (int i = 0; i < 30; ++i) text += "[t" + std::to_string(i) + "]\nurl=http://127.0.0.1:1/" + std::to_string(i) + "\n";
  char path[] = "/tmp/observer-shard-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  std::set<std::string> seen;
  for (uint32_t i = 0; i < 3; ++i) {
    assert_true(load_invocation({"-config", path, "-shard=" + Shard{i, 3}.text()}, {}, &inv, &err));
    assert_int_equal(inv.config.configured_targets(), 30);
    for (const TargetConfig& t : inv.config.targets) {
      assert_true(owns(Shard{i, 3}, t.name));
      assert_true(seen.insert(t.name).second);
    }
    for (const TargetConfig& t : inv.config.elsewhere) assert_false(owns(Shard{i, 3}, t.name));
  }
  assert_int_equal(seen.size(), 30);
  std::ofstream(path, std::ios::app) << "[t30]\nurl=http://127.0.0.1:1/\ntick=never\n";
  for (uint32_t i = 0; i < 3; ++i) {
    assert_false(load_invocation({"-config", path, "-shard=" + Shard{i, 3}.text()}, {}, &inv, &err));
    assert_non_null(strstr(err.c_str(), ":63: tick"));
  }
  unlink(path);
  assert_false(load_invocation({"-url=http://127.0.0.1:1/", "-shard=2/2"}, {}, &inv, &err));
  assert_string_equal(err.c_str(), "flag -shard: the index I in \"2/2\" must be below N (shards are numbered 0 to 1)");
  assert_false(load_invocation({"-url=http://127.0.0.1:1/"}, {{"OBSERVER_SHARD", "x"}}, &inv, &err));
  assert_non_null(strstr(err.c_str(), "OBSERVER_SHARD: invalid shard \"x\""));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shard_syntax_is_i_of_n_with_i_below_n),
      cmocka_unit_test(weights_are_stable),
      cmocka_unit_test(every_target_has_exactly_one_owner),
      cmocka_unit_test(three_to_four_moves_a_quarter_and_four_to_three_moves_them_back),
      cmocka_unit_test(config_splits_targets_and_checks_every_section),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
