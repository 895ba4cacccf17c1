// Engine: the probe loop of one worker. It owns every target (its compiled
// checks, UP/DOWN state, schedule and in-flight probe), the timers that wake
// them (one per wake-up instant that targets share, see wakeup_grid()) and
// libcurl's multi handle, driven by the caller's libuv loop (curl_multi_uv.h),
// on which every probe is an easy transfer from a pool (probe.h). The
// Worker (worker.h) drives it: load, start, inherit + end_handover, retire
// or abort, close.
//
// Life cycle:  load -> start -> [end_handover] -> retire -> (idle) -> close
//                                               \-> abort -> close
// as a Phase, changed only by set_phase(), which asserts each transition:
//
//   Loaded --start()--> Running
//   Loaded|Running --retire()--> CuttingOver   slots before the cut-over are
//                                              still to fire
//                             \--> Retired     none are (or no cut-over)
//   CuttingOver --the last such slot fired, abort()--> Retired
//   Retired --on_idle ran (no probe in flight or waiting)--> Idle
//   CuttingOver|Retired|Idle --resume()--> Running (Loaded if never started)
//   any --close()--> Closed
//
// A retire() before start() (a stop while the worker sets up) leaves start()
// nothing to schedule. A second retire() only brings the cut-over forward;
// it never leaves the retiring phases.
//
// Until end_handover() the engine holds back UP/DOWN lines (mismatch and
// transport lines are logged at once) and replays each target's outcomes onto
// the inherited state when the hand-over ends. Holding is not a phase: a
// stop during the inbound hand-over retires an engine that still holds (the
// Worker ends the hand-over once the engine is idle).
//
// A reload's cut-over (control.h): the new engine starts with an instant T,
// announced at F = T - hold, and fires only the slots that are its own
// (boundary at or after T, start at or after F: schedule.h
// successors_slot()); the old one retires at T: it fires every other slot
// and then goes idle. The boundary (schedule.h: slot_boundary()) is the same
// instant in both engines. A retirement can be called off (resume()) until
// the engine has gone idle and been closed.
//
// Overload: at most `max_in_flight` probes run at once. A slot that comes
// while that many are in flight waits, in order, for one to end, at most
// 250 ms (and a quarter of its tick; at most 4 x max_in_flight or 256
// slots wait), so
// that a stall of the loop costs no probe; past that it is skipped, never
// queued without end. A slot that comes while the target's own previous
// probe still runs is skipped at once. Every skip is counted. The first of a
// target is logged at once; later ones are summed into one line per target
// per minute, and whatever is still unreported is logged at close(), so every
// unprobed slot appears in the log with its count.
//
// Loop thread only. close() must run before the loop is closed, and the loop
// must run once more afterwards for the handles' close callbacks.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/checks.h"
#include "common/config.h"
#include "common/control.h"
#include "worker/curl_multi_uv.h"
#include "common/logger.h"
#include "worker/metrics.h"
#include "worker/probe.h"
#include "worker/status_page.h"
#include "worker/target_state.h"
#include "common/uv_handle.h"

namespace observer {

class Engine {
 public:
  Engine(uv_loop_t* loop, Logger* log);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes the targets and compiles their checks (once per distinct
  // settings); at most `max_in_flight` (> 0) probes will run at once.
  // BadConfig: a pattern does not compile (exit 78); Failed: the process
  // cannot run them (a libuv handle, libcurl's multi handle: exit 70).
  enum class LoadStatus { Ok, BadConfig, Failed };
  LoadStatus load(std::vector<TargetConfig> targets, size_t max_in_flight, std::string* error);

  // Holds back state-change lines until end_handover() (call before start).
  void hold_transitions() { holding_ = true; }

  // Arms every target's timer; the schedule's origin is now. With a `hold`,
  // the engine takes a reload's cut-over (cut_over_ns(): `hold` from the
  // end of its set-up) and fires only the slots from it on (by boundary:
  // see slot_boundary()).
  bool start(std::string* error, Nanos hold = Nanos{0});
  // The cut-over start() took (a uv_hrtime() instant), or 0.
  uint64_t cut_over_ns() const { return cut_over_ns_; }

  // While transitions are held: takes one record of the hand-over
  // (identity name+url) as its target's starting state, as it arrives. A
  // record matching no target is ignored; so is a second one for a target.
  // Returns the index of the target that took it, if one did.
  std::optional<size_t> inherit(const TargetStateRecord& record);
  // Replays what was probed since start onto each target's state (inherited
  // or fresh) and logs the changes that replay produces.
  void end_handover();

  // Stops scheduling at `cut_over_ns`, a uv_hrtime() instant T: every slot
  // that is still ours is fired, even one whose timer is overdue, none of
  // the successor's (boundary at or after T and start at or after
  // `takes_from_ns`, the instant F the successor announced T: control.h);
  // 0 stops at once, overdue slots included. `on_idle` runs (from the loop,
  // never from inside this call or a curl callback) once that is done and
  // no probe is in flight. A second call can only bring the cut-over
  // forward; its `on_idle` is ignored.
  void retire(std::function<void()> on_idle, uint64_t cut_over_ns = 0, uint64_t takes_from_ns = 0);
  // Calls a retire() off (its successor died before the cut-over): every
  // slot is fired again, from the first one retire() had left to the
  // successor (at once if overdue); on_idle will not run. Probes in flight
  // go on. No-op unless retiring; not after abort().
  void resume();
  // Retired, but slots before the cut-over are still to be fired.
  bool cutting_over() const { return phase_ == Phase::CuttingOver; }
  // Targets already probed for a slot from the cut-over on when retire()
  // was first called (the cut-over came late; the successor probes those
  // slots too).
  uint64_t late_probes() const { return late_probes_; }
  // Ends every in-flight probe without a result.
  void abort();
  // Logs the skips not yet reported and closes every handle. Call after
  // abort(); no probe may be in flight.
  void close();

  // Every target's state as TargetState control messages, in target order;
  // `decorate` (if any) adds to each record (the alerts' marks).
  std::string encode_states(const std::function<void(size_t, TargetStateRecord*)>& decorate = {}) const;

  // What others keep per target (alerter.h): its name, URL as shown, and
  // settings, by target index; valid until close().
  struct TargetRef {
    const std::string* name;
    const std::string* display_url;
    const TargetSettings* settings;
  };
  std::vector<TargetRef> target_refs() const;
  const TargetState& state_of(size_t i) const;
  // Runs after each change of a target's health that is logged (index, its
  // state after the change), from the loop.
  void on_change(std::function<void(size_t, const TargetState&)> fn) { on_change_ = std::move(fn); }
  // Appends every target's series and the engine's own in the Prometheus
  // text format (metrics.h).
  void write_metrics(std::string* out) const;
  size_t in_flight() const { return in_flight_; }

  // Every target as the status page shows it, in target order (valid until
  // the engine next runs).
  std::vector<TargetView> target_views() const;
  // For /healthz (worker.cc): whether start() has run; the uv_hrtime() at
  // which the latest probe that began on schedule (within kOnTimeLag of its
  // slot) began, counted once it has ended (0: none yet); and the longest
  // tick + timeout of any target, within which some probe always ends.
  bool started() const { return origin_ns_ != 0; }
  uint64_t last_on_time_probe_ns() const { return last_on_time_probe_ns_; }
  Nanos longest_probe_cycle() const;
  static constexpr std::chrono::milliseconds kOnTimeLag{1000};

 private:
  struct Target;
  struct Wakeup;
  enum class SkipReason { Overrun, Busy };
  // See the top of this file.
  enum class Phase { Loaded, Running, CuttingOver, Retired, Idle, Closed };
  // The one place the phase changes; asserts that the change is legal.
  void set_phase(Phase next);
  bool retiring() const {
    return phase_ == Phase::CuttingOver || phase_ == Phase::Retired || phase_ == Phase::Idle;
  }

  static void on_uv_wakeup(uv_timer_t* handle) noexcept;
  static void on_uv_idle_check(uv_timer_t* handle) noexcept;
  static void on_uv_skip_report(uv_timer_t* handle) noexcept;

  // Sets the wake-up's timer for the earliest slot of its armed targets, or
  // stops it when none is armed.
  void arm(Wakeup* w);
  void wake(Wakeup* w);
  // Fires the target's next slot if it is due (within 1 ms); advances it.
  void fire(Target* t);
  void start_probe(Target* t, int64_t lag_us);
  void skip_slot(Target* t, SkipReason why);
  void wait_for_room(Target* t, Nanos due);
  void start_waiting();
  void report_skips(bool final);
  std::string in_flight_limit_words() const;  // "240 probes in flight"
  void on_probe_done(CURL* easy, int curl_code);
  void report(Target* t, const ProbeResult& r);
  void record_outcome(Target* t, ProbeOutcome outcome);
  void log_change(Target& t, const StateChange& c);
  void note_metrics(Target* t, const ProbeResult& r, const Finding* first_failure, int64_t now_ms);
  void maybe_idle();
  // Retiring, and slot k of `t` is the successor's (not to be fired).
  bool successors(const Target& t, uint64_t k) const { return retiring() && past_cut_over(t, k); }
  // Slot k of `t` is the successor's by the current stop_ and takes_from_.
  bool past_cut_over(const Target& t, uint64_t k) const;
  size_t index_of(const Target* t) const;
  uint64_t now_since_origin_ns() const;
  static size_t identity_hash(const std::string& name, const std::string& url);

  uv_loop_t* loop_;
  Logger* log_;
  // Never resized after load(): wake-ups and probes refer to targets by index.
  std::vector<Target> targets_;
  // Targets that share a tick and a (snapped) phase share one timer: a
  // worker with 10 000 targets keeps ~500 timers, not 10 000 (memory, and
  // libuv's timer heap per probe).
  std::vector<Wakeup> wakeups_;
  std::unordered_multimap<size_t, Target*> by_identity_;  // during the hand-over only
  // While transitions are held: each probed target's outcomes (most targets
  // have none during a hand-over, so nothing is kept for them).
  std::unordered_map<size_t, HeldOutcomes> held_;
  // One per distinct TargetSettings; targets point into it.
  std::vector<std::unique_ptr<const ProbeSpec>> specs_;
  std::unique_ptr<CurlMultiUv> multi_;
  ProbePool pool_;
  mutable size_t last_metrics_bytes_ = 0;  // size of the last exposition (write_metrics)
  Histogram duration_histogram_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram lag_histogram_{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  size_t max_in_flight_ = 1;
  // Slots waiting for room under max_in_flight, oldest first (at most
  // 4 x max_in_flight of them, and 256).
  struct Waiting {
    uint32_t target;
    uint64_t deadline_ns;  // uv_hrtime(): skipped if still waiting then
    uint64_t due_ns;       // uv_hrtime() the slot was due (its lag counts from it)
  };
  std::deque<Waiting> waiting_;
  // Targets with a skip logged in the current minute (see skip_slot()).
  std::vector<uint32_t> skip_noted_;
  UvHandle<uv_timer_t> skip_report_;
  UvHandle<uv_timer_t> idle_check_;
  uint64_t origin_ns_ = 0;
  uint64_t cut_over_ns_ = 0;
  Nanos stop_{0};           // retiring: no slot whose boundary is at or after this (since origin)...
  Nanos takes_from_{0};     // ...and whose start is at or after this is fired
  size_t before_stop_ = 0;  // CuttingOver: targets with a slot before stop_ still to fire; else 0
  uint64_t late_probes_ = 0;
  uint64_t last_on_time_probe_ns_ = 0;
  Phase phase_ = Phase::Loaded;
  bool holding_ = false;  // between hold_transitions() and end_handover(), whatever the phase
  size_t in_flight_ = 0;  // targets whose probe is on the multi handle
  std::function<void()> on_idle_;
  std::function<void(size_t, const TargetState&)> on_change_;
};

}  // namespace observer
