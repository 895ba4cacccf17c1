#include "worker/engine.h"

#include <strings.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <map>
#include <unordered_map>

#include "worker/schedule.h"

namespace observer {
namespace {

// How long a slot may wait for room under max_in_flight (never more than a
// quarter of its tick) before it is skipped.
constexpr Nanos kWaitForRoom = std::chrono::milliseconds(250);
// How often skipped slots are summed into a line per target.
constexpr uint64_t kSkipReportMs = 60 * 1000;

// The monotonic clock and the wall clock at one instant, read back to back
// (monotonic, wall, monotonic) with the tightest of a few tries kept. A
// worker maps the wall-aligned slots onto the monotonic clock with this
// pair; a reload's successor must map them to (nearly) the same nanosecond,
// or a slot right at the cut-over could fall to both workers or to neither.
struct ClockPair {
  uint64_t mono_ns = 0;
  int64_t wall_ns = 0;
};

ClockPair read_clocks() {
  ClockPair best;
  uint64_t best_width = UINT64_MAX;
  for (int i = 0; i < 5 && best_width > 1000; ++i) {
    uint64_t a = uv_hrtime();
    int64_t wall = std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch()).count();
    uint64_t b = uv_hrtime();
    if (b - a < best_width) {
      best_width = b - a;
      best.mono_ns = a + (b - a) / 2;
      best.wall_ns = wall;
    }
  }
  return best;
}


}  // namespace

// Kept small: a worker holds one per target for its whole life. What
// targets share (settings, compiled checks, the request's headers) is shared,
// not copied; the timer is its wake-up's; an easy handle is borrowed from the
// pool only while a probe runs.
struct Engine::Target {
  std::string name;
  std::string url;
  std::unique_ptr<const std::string> masked_url;  // the url with its password masked; null when it has none
  std::shared_ptr<const TargetSettings> shared_settings;
  std::shared_ptr<const TargetChecks> checks;
  const ProbeSpec* spec = nullptr;  // the engine's, shared by targets with the same settings
  TargetState state;
  Nanos phase{};
  Nanos snapped_by{};  // how far snap_phase() moved the phase (see slot_boundary())
  uint64_t next_slot = 0;
  Nanos last_fired_boundary{INT64_MIN};  // of the last slot a probe started for
  std::unique_ptr<Probe> probe;  // in flight
  int64_t probe_lag_us = 0;
  TargetCounters counters;  // carried over a reload with the state
  LastProbe last;
  ProbeHistory history;      // likewise
  std::string last_failure;  // the last failed probe's first finding (the status page's reason)
  uint32_t overruns_unreported = 0;  // skipped slots not yet in a log line (see skip_slot())
  uint32_t busy_unreported = 0;
  bool skip_noted = false;  // a skip of this target was logged in the current minute
  bool waiting = false;     // its slot waits for room under max_in_flight (wait_for_room())
  bool armed = false;       // a slot is still to fire: its wake-up's timer waits for it
  bool inherited = false;   // took a record of the hand-over

  Target(TargetConfig c, std::shared_ptr<const TargetChecks> compiled)
      : name(std::move(c.name)),
        url(std::move(c.url)),
        masked_url(c.masked_url.empty() ? nullptr : std::make_unique<const std::string>(std::move(c.masked_url))),
        shared_settings(std::move(c.settings)),
        checks(std::move(compiled)),
        state(settings().failure_threshold, settings().success_threshold) {}

  bool probing() const { return probe != nullptr; }
  const TargetSettings& settings() const { return *shared_settings; }
  // The url with any password masked: the only form ever logged.
  const std::string& display_url() const { return masked_url ? *masked_url : url; }
};

// The timer of the targets that share a tick and a phase.
struct Engine::Wakeup {
  Engine* engine = nullptr;
  Nanos tick{};
  Nanos phase{};
  std::vector<size_t> members;  // indices into targets_
  UvHandle<uv_timer_t> timer;
};

Engine::Engine(uv_loop_t* loop, Logger* log) : loop_(loop), log_(log) {}

Engine::~Engine() {
  abort();
  close();
}

Engine::LoadStatus Engine::load(std::vector<TargetConfig> targets, size_t max_in_flight, std::string* error) {
  assert(max_in_flight > 0);
  max_in_flight_ = max_in_flight;
  targets_.clear();
  targets_.reserve(targets.size());
  ChecksCache compiled;
  std::unordered_map<const TargetSettings*, const ProbeSpec*> spec_of;
  for (TargetConfig& c : targets) {
    std::shared_ptr<const TargetChecks> checks = compiled.get(c, error);
    if (!checks) return LoadStatus::BadConfig;
    const ProbeSpec*& spec = spec_of[c.settings.get()];
    if (spec == nullptr) {
      auto fresh = std::make_unique<ProbeSpec>();
      if (!ProbeSpec::build(c.settings, fresh.get(), error)) return LoadStatus::Failed;
      spec = fresh.get();
      specs_.push_back(std::move(fresh));
    }
    // Only what a running target needs is kept (not the origins: they
    // serve -check-config and load-time errors).
    targets_.emplace_back(std::move(c), std::move(checks));
    targets_.back().spec = spec;
  }
  // Created here, not in start(): a retirement may come before the start.
  auto timer_init = [this](uv_timer_t* h) { return uv_timer_init(loop_, h); };
  int rc = idle_check_.init(timer_init, this);
  if (rc == 0) rc = skip_report_.init(timer_init, this);
  if (rc != 0) {
    *error = std::string("uv_timer_init: ") + uv_strerror(rc);
    return LoadStatus::Failed;
  }
  multi_ = std::make_unique<CurlMultiUv>(loop_, [this](CURL* easy, int curl_code) { on_probe_done(easy, curl_code); });
  multi_->on_socket_error([](CURL* easy, int err) {
    if (Probe* p = Probe::from_easy(easy)) p->note_socket_error(err);
  });
  return multi_->init(error) ? LoadStatus::Ok : LoadStatus::Failed;
}

uint64_t Engine::now_since_origin_ns() const { return uv_hrtime() - origin_ns_; }

void Engine::set_phase(Phase next) {
  switch (next) {
    case Phase::Loaded:  // resume() of a retirement that came before start()
      assert(retiring() && origin_ns_ == 0);
      break;
    case Phase::Running:  // start(), or resume()
      assert(phase_ == Phase::Loaded || (retiring() && origin_ns_ != 0));
      break;
    case Phase::CuttingOver:  // retire(), first or again
      assert(phase_ == Phase::Loaded || phase_ == Phase::Running || phase_ == Phase::CuttingOver);
      break;
    case Phase::Retired:  // retire(); the last slot before the cut-over fired; abort()
      assert(phase_ == Phase::Loaded || phase_ == Phase::Running || phase_ == Phase::CuttingOver ||
             phase_ == Phase::Retired);
      break;
    case Phase::Idle:
      assert(phase_ == Phase::Retired);
      break;
    case Phase::Closed:
      break;
  }
  phase_ = next;
}

bool Engine::start(std::string* error, Nanos hold) {
  if (retiring()) return true;  // stopped before it started: nothing to schedule
  set_phase(Phase::Running);
  ClockPair clocks = read_clocks();
  origin_ns_ = clocks.mono_ns;
  SchedulePlan plan;
  for (const Target& t : targets_) plan.count(t.settings().tick);
  // Targets whose tick and phase are the same wake up together.
  std::map<std::pair<int64_t, int64_t>, size_t> wakeup_of;
  std::vector<size_t> wakeup_index(targets_.size());
  for (size_t i = 0; i < targets_.size(); ++i) {
    Target& t = targets_[i];
    const Nanos tick = t.settings().tick;
    TargetPhase p = plan.phase_of(t.name, t.url, tick);
    t.snapped_by = p.own - p.starts;
    t.phase = phase_after_origin(p.starts, tick, clocks.wall_ns);
    wakeup_index[i] = wakeup_of.emplace(std::make_pair(tick.count(), t.phase.count()), wakeup_of.size()).first->second;
    if (t.settings().cert_min_days && !url_has_scheme(t.url, "https://"))
      log_->log(Level::Warning, t.name,
                "cert_min_days is set but the URL is not https; the certificate check applies only after a redirect to https",
                {str("url", t.display_url())});
  }
  wakeups_ = std::vector<Wakeup>(wakeup_of.size());
  for (size_t i = 0; i < targets_.size(); ++i) {
    Wakeup& w = wakeups_[wakeup_index[i]];
    w.tick = targets_[i].settings().tick;
    w.phase = targets_[i].phase;
    w.members.push_back(i);
  }
  for (Wakeup& w : wakeups_) {
    w.engine = this;
    w.members.shrink_to_fit();
    int rc = w.timer.init([this](uv_timer_t* h) { return uv_timer_init(loop_, h); }, &w);
    if (rc != 0) {
      *error = std::string("uv_timer_init: ") + uv_strerror(rc);
      return false;
    }
  }
  // The cut-over is taken after the set-up above, so that all of `hold` is
  // left for the supervisor to pass it on. (A slot starts up to its snap,
  // less than tick/10, before its boundary: with a coarse grid a first slot
  // may be due at once, and is fired a little late rather than the old
  // worker kept on for up to tick/10.)
  Nanos not_before{0};
  if (hold > Nanos{0}) {
    cut_over_ns_ = uv_hrtime() + static_cast<uint64_t>(hold.count());
    not_before = Nanos{static_cast<int64_t>(cut_over_ns_ - origin_ns_)};
  }
  for (Target& t : targets_) {
    // From `not_before - hold` on (the instant the cut-over is announced):
    // a slot that started earlier was the old worker's (control.h).
    t.next_slot = hold > Nanos{0}
                      ? first_successors_slot(not_before, not_before - hold, t.phase, t.settings().tick, t.snapped_by)
                      : 0;
    t.armed = true;
  }
  for (Wakeup& w : wakeups_) arm(&w);
  return true;
}

void Engine::arm(Wakeup* w) {
  bool any = false;
  uint64_t next = 0;
  for (size_t i : w->members) {
    const Target& t = targets_[i];
    if (t.armed && (!any || t.next_slot < next)) next = t.next_slot;
    any = any || t.armed;
  }
  if (!any) {
    uv_timer_stop(w->timer.get());
    return;
  }
  int64_t due = slot_time(w->phase, w->tick, next).count();
  int64_t now = static_cast<int64_t>(now_since_origin_ns());
  int64_t wait_ns = due > now ? due - now : 0;
  // Round to the nearest ms: libuv's clock is in milliseconds, and rounding
  // up would make every probe start 0-1 ms late. fire()
  // starts a probe up to 1 ms early and waits out anything earlier.
  uint64_t wait_ms = static_cast<uint64_t>((wait_ns + 500000) / 1000000);
  uv_timer_start(w->timer.get(), &Engine::on_uv_wakeup, wait_ms, 0);
}

void Engine::on_uv_wakeup(uv_timer_t* handle) noexcept {
  auto* w = static_cast<Wakeup*>(handle->data);
  if (w != nullptr) w->engine->wake(w);
}

void Engine::wake(Wakeup* w) {
  for (size_t i : w->members)
    if (targets_[i].armed) fire(&targets_[i]);
  arm(w);
}

bool Engine::past_cut_over(const Target& t, uint64_t k) const {
  return successors_slot(t.phase, t.settings().tick, k, t.snapped_by, stop_, takes_from_);
}

void Engine::fire(Target* t) {
  const Nanos tick = t->settings().tick;
  if (successors(*t, t->next_slot)) {
    t->armed = false;  // retire() counts only the slots before the cut-over
    return;
  }
  Nanos now{static_cast<int64_t>(now_since_origin_ns())};
  Nanos due = slot_time(t->phase, tick, t->next_slot);
  // libuv's loop clock may be coarser than the schedule: wait out the rest.
  if (due - now > std::chrono::milliseconds(1)) return;
  int64_t lag_us = std::chrono::duration_cast<std::chrono::microseconds>(now - due).count();
  if (t->probing()) {
    skip_slot(t, SkipReason::Overrun);
  } else if (t->waiting) {
    skip_slot(t, SkipReason::Busy);  // its last slot still waits for room
  } else if (in_flight_ >= max_in_flight_) {
    t->last_fired_boundary = slot_boundary(t->phase, tick, t->next_slot, t->snapped_by);
    wait_for_room(t, due);
  } else {
    t->last_fired_boundary = slot_boundary(t->phase, tick, t->next_slot, t->snapped_by);
    start_probe(t, lag_us);
  }
  // Slots that went by while the loop was busy are not made up.
  uint64_t next = first_slot_at_or_after(now + Nanos{1}, t->phase, tick);
  t->next_slot = next > t->next_slot ? next : t->next_slot + 1;
  if (successors(*t, t->next_slot)) {
    // Its last slot before the cut-over is fired; the rest are the successor's.
    t->armed = false;
    if (--before_stop_ == 0) set_phase(Phase::Retired);
    maybe_idle();
  }
}

void Engine::start_probe(Target* t, int64_t lag_us) {
  std::string error;
  std::unique_ptr<Probe> p = pool_.take(&error);
  if (p && !p->prepare(t->url, *t->spec, &error)) {
    pool_.give_back(std::move(p));
  } else if (p && !multi_->add(p->easy(), &error)) {
    pool_.give_back(std::move(p));
  }
  if (!p) {
    log_->log(Level::Error, t->name, "Probe could not start: " + error, {str("url", t->display_url())});
    record_outcome(t, ProbeOutcome{false, "probe could not start: " + error, unix_ms_now()});
    return;
  }
  p->target = static_cast<uint32_t>(index_of(t));
  t->probe = std::move(p);
  t->probe_lag_us = lag_us;
  ++in_flight_;
}

// A slot not probed: logged at once the first time in a minute for the
// target, then summed into report_skips()'s line, so that an overloaded
// worker writes one line per target per minute, not one per slot.
void Engine::skip_slot(Target* t, SkipReason why) {
  ++t->counters.skipped;
  if (!t->skip_noted) {
    t->skip_noted = true;
    skip_noted_.push_back(static_cast<uint32_t>(index_of(t)));
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(skip_report_.get())))
      uv_timer_start(skip_report_.get(), &Engine::on_uv_skip_report, kSkipReportMs, kSkipReportMs);
    if (why == SkipReason::Overrun) {
      log_->log(Level::Warning, t->name,
                "Probe still running at the next tick (timeout " + format_duration(t->settings().timeout) + ", tick " +
                    format_duration(t->settings().tick) + "); skipped this tick",
                {str("url", t->display_url()), str("event", "tick_skipped"), str("reason", "overrun"),
                 num("skipped", 1)});
    } else {
      log_->log(Level::Warning, t->name,
                "Probe skipped: " + in_flight_limit_words() + " (max_in_flight)",
                {str("url", t->display_url()), str("event", "tick_skipped"), str("reason", "max_in_flight"),
                 num("skipped", 1)});
    }
    return;
  }
  ++(why == SkipReason::Overrun ? t->overruns_unreported : t->busy_unreported);
}

std::string Engine::in_flight_limit_words() const {
  return std::to_string(max_in_flight_) + (max_in_flight_ == 1 ? " probe in flight" : " probes in flight");
}

void Engine::on_uv_skip_report(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Engine*>(handle->data);
  if (self != nullptr) self->report_skips(false);
}

// One line per target and reason for the skips since its last line; a
// target with none is rate-limited no more. `final`: at close, every count.
void Engine::report_skips(bool final) {
  auto line = [this](const Target& t, uint32_t n, const char* reason, const std::string& why) {
    log_->log(Level::Warning, t.name, "Skipped " + std::to_string(n) + (n == 1 ? " more probe" : " more probes") +
                                          " in the last minute: " + why,
              {str("url", t.display_url()), str("event", "tick_skipped"), str("reason", reason),
               num("skipped", n)});
  };
  size_t kept = 0;
  for (uint32_t i : skip_noted_) {
    Target& t = targets_[i];
    bool any = t.overruns_unreported != 0 || t.busy_unreported != 0;
    if (t.overruns_unreported != 0)
      line(t, t.overruns_unreported, "overrun", "still running at the next tick");
    if (t.busy_unreported != 0)
      line(t, t.busy_unreported, "max_in_flight", in_flight_limit_words() + " (max_in_flight)");
    t.overruns_unreported = t.busy_unreported = 0;
    if (any && !final) {
      skip_noted_[kept++] = i;
    } else {
      t.skip_noted = false;
    }
  }
  skip_noted_.resize(kept);
  if (skip_noted_.empty() && skip_report_) uv_timer_stop(skip_report_.get());
}

// The bound is reached: the slot waits, in order, for a probe to end, at
// most kWaitForRoom (and a quarter of its tick), then is skipped. A stall
// of the loop (a lost time slice, a burst of overdue wake-ups) then costs
// no probe, while a machine offered more than it can probe still skips, and
// never queues more than max_in_flight slots.
void Engine::wait_for_room(Target* t, Nanos due) {
  // Bounded, by a burst's worth: wake-ups fire ~20 targets at once.
  if (waiting_.size() >= std::max<size_t>(4 * max_in_flight_, 256)) {
    skip_slot(t, SkipReason::Busy);
    return;
  }
  Nanos grace = std::min<Nanos>(kWaitForRoom, t->settings().tick / 4);
  t->waiting = true;
  waiting_.push_back(Waiting{static_cast<uint32_t>(index_of(t)), uv_hrtime() + static_cast<uint64_t>(grace.count()),
                             origin_ns_ + static_cast<uint64_t>(due.count())});
}

// Starts the waiting slots that fit, in order; those past their wait are skipped.
void Engine::start_waiting() {
  uint64_t now = uv_hrtime();
  while (!waiting_.empty() && in_flight_ < max_in_flight_) {
    Waiting w = waiting_.front();
    waiting_.pop_front();
    Target* t = &targets_[w.target];
    t->waiting = false;
    if (now > w.deadline_ns) {
      skip_slot(t, SkipReason::Busy);
      continue;
    }
    start_probe(t, static_cast<int64_t>(now > w.due_ns ? (now - w.due_ns) / 1000 : 0));
  }
}

void Engine::on_probe_done(CURL* easy, int curl_code) {
  Probe* p = Probe::from_easy(easy);
  assert(p != nullptr && p->target < targets_.size());
  Target* t = &targets_[p->target];
  assert(t->probe.get() == p);
  multi_->remove(easy);
  std::unique_ptr<Probe> done = std::move(t->probe);
  --in_flight_;
  report(t, done->finish(curl_code));
  pool_.give_back(std::move(done));
  start_waiting();
  maybe_idle();
}

void Engine::note_metrics(Target* t, const ProbeResult& r, const Finding* first_failure, int64_t now_ms) {
  double seconds = std::chrono::duration<double>(r.total_time).count();
  t->history.record(now_ms, first_failure == nullptr, seconds);
  if (first_failure != nullptr) t->last_failure = first_failure->message;  // reuses its capacity
  if (t->probe_lag_us <= std::chrono::duration_cast<std::chrono::microseconds>(kOnTimeLag).count()) {
    uint64_t now_ns = uv_hrtime();
    uint64_t took_ns = static_cast<uint64_t>(std::max<int64_t>(0, r.total_time.count()));
    uint64_t began_ns = now_ns > took_ns ? now_ns - took_ns : 0;
    last_on_time_probe_ns_ = std::max(last_on_time_probe_ns_, began_ns);
  }
  LastProbe& last = t->last;
  last.known = true;
  last.success = first_failure == nullptr;
  last.status = static_cast<uint16_t>(r.status);
  last.duration_s = seconds;
  last.phases_s = r.phases_s;
  last.cert_expiry_unix = r.cert_expiry_unix.value_or(0);
  if (first_failure == nullptr) {
    ++t->counters.success;
  } else {
    ++t->counters.failure;
    ++t->counters.failures[static_cast<size_t>(classify_failure(first_failure->check, r.curl_code))];
  }
  duration_histogram_.observe(seconds);
  lag_histogram_.observe(static_cast<double>(t->probe_lag_us) / 1e6);
}

void Engine::report(Target* t, const ProbeResult& r) {
  int64_t now_ms = unix_ms_now();
  std::vector<Finding> findings = evaluate(*t->checks, r, now_ms / 1000);
  note_metrics(t, r, findings.empty() ? nullptr : &findings.front(), now_ms);
  if (findings.empty()) {  // the common case: nothing to log, nothing to build
    record_outcome(t, ProbeOutcome{true, {}, now_ms});
    return;
  }
  std::vector<LogField> common = {
      str("url", t->display_url()),
      num("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(r.total_time).count()),
      num("lag_us", t->probe_lag_us)};
  if (r.status != 0) common.push_back(num("status", r.status));
  for (Finding& f : findings) {
    std::vector<LogField> fields = std::move(f.fields);
    fields.insert(fields.begin(), str("check", f.check));
    fields.insert(fields.end(), common.begin(), common.end());
    log_->log(Level::Warning, t->name, f.message, std::move(fields));
  }
  ProbeOutcome o;
  o.ok = findings.empty();
  if (!o.ok) o.reason = findings.front().message;
  o.unix_ms = now_ms;
  record_outcome(t, std::move(o));
}

void Engine::record_outcome(Target* t, ProbeOutcome outcome) {
  if (holding_) {
    held_[index_of(t)].push(std::move(outcome));
    return;
  }
  if (auto change = t->state.apply(outcome)) log_change(*t, *change);
}

void Engine::log_change(Target& t, const StateChange& c) {
  ++t.counters.state_changes;
  if (on_change_) on_change_(index_of(&t), t.state);
  const std::string& name = t.name;
  if (c.to == TargetHealth::Down) {
    log_->log(Level::Error, name, "DOWN: " + c.reason,
              {str("state", "down"), str("reason", c.reason), str("url", t.display_url())});
  } else if (c.to == TargetHealth::Up) {
    log_->log(Level::Notice, name, "UP after " + format_outage(c.down_for_ms),
              {str("state", "up"), num("down_ms", c.down_for_ms), str("url", t.display_url())});
  }
}

size_t Engine::identity_hash(const std::string& name, const std::string& url) {
  std::hash<std::string> h;
  return h(name) * 31 + h(url);
}

std::optional<size_t> Engine::inherit(const TargetStateRecord& record) {
  if (!holding_) return std::nullopt;
  // By identity (name + url), indexed on the first record: a scan per record
  // was O(targets x records). Hashes only, so the index costs no strings.
  if (by_identity_.empty()) {
    by_identity_.reserve(targets_.size());
    for (Target& t : targets_) by_identity_.emplace(identity_hash(t.name, t.url), &t);
  }
  auto [first, last] = by_identity_.equal_range(identity_hash(record.name, record.url));
  for (auto it = first; it != last; ++it) {
    Target* t = it->second;
    // While holding, a target's state is untouched (outcomes are held), so
    // the record simply becomes it; a second record for the same target
    // changes nothing.
    if (!same_identity(record, t->name, t->url) || t->inherited) continue;
    t->state.restore(record);
    // What this worker counted before the hand-over came adds to what the
    // old one counted: a counter never goes back.
    TargetCounters before;
    LastProbe last;
    ProbeHistory older;
    decode_target_metrics(record.counters, &before, &last, &older);
    add_counters(&t->counters, before);
    if (!t->last.known) {
      t->last = last;
      // The failure line itself is not in the record; the one that took
      // it DOWN is the best there is.
      if (last.known && !last.success) t->last_failure = record.last_reason;
    }
    older.append(t->history);
    t->history = older;
    t->inherited = true;
    return index_of(t);
  }
  return std::nullopt;
}

void Engine::end_handover() {
  if (!holding_) return;
  holding_ = false;
  by_identity_ = {};
  // In target order, as the lines came before outcomes were held sparsely.
  for (size_t i = 0; i < targets_.size() && !held_.empty(); ++i) {
    auto it = held_.find(i);
    if (it == held_.end()) continue;
    std::vector<StateChange> changes = it->second.replay_onto(&targets_[i].state);
    held_.erase(it);
    for (const StateChange& ch : changes) log_change(targets_[i], ch);
  }
  held_ = {};
}

void Engine::retire(std::function<void()> on_idle, uint64_t cut_over_ns, uint64_t takes_from_ns) {
  // Since the origin. 0 (no cut-over, or never started): no slot is left,
  // not even one whose timer is overdue, as on any stop.
  auto since_origin = [this](uint64_t ns) {
    return origin_ns_ != 0 && ns > origin_ns_ ? Nanos{static_cast<int64_t>(ns - origin_ns_)} : Nanos{0};
  };
  Nanos stop = since_origin(cut_over_ns);
  Nanos takes_from = cut_over_ns != 0 ? since_origin(takes_from_ns) : Nanos{0};
  if (retiring()) {
    if (stop >= stop_) return;  // a cut-over only ever comes forward
  } else {
    on_idle_ = std::move(on_idle);
    // Probes already started for slots that are the successor's, which it
    // fires too: they started after it announced the cut-over, before the
    // Retire reached us (or the Retire came after the cut-over).
    if (cut_over_ns != 0)
      for (const Target& t : targets_)
        if (t.last_fired_boundary >= stop && t.last_fired_boundary - t.snapped_by >= takes_from) ++late_probes_;
  }
  stop_ = stop;
  takes_from_ = takes_from;
  // An armed target has a slot still to fire: kept if it is the old worker's.
  before_stop_ = 0;
  for (Target& t : targets_) {
    if (!t.armed) continue;
    if (!past_cut_over(t, t.next_slot))
      ++before_stop_;
    else
      t.armed = false;
  }
  // Once retired (or idle), no target is armed: a second call finds no slot
  // before its cut-over and leaves the phase as it is.
  if (before_stop_ != 0)
    set_phase(Phase::CuttingOver);
  else if (!retiring() || phase_ == Phase::CuttingOver)
    set_phase(Phase::Retired);
  for (Wakeup& w : wakeups_) arm(&w);
  maybe_idle();
}

void Engine::resume() {
  if (!retiring()) return;
  set_phase(origin_ns_ != 0 ? Phase::Running : Phase::Loaded);
  on_idle_ = nullptr;
  if (idle_check_) uv_timer_stop(idle_check_.get());
  late_probes_ = 0;  // counted afresh by the next retirement
  before_stop_ = 0;
  stop_ = Nanos{0};
  takes_from_ = Nanos{0};
  if (origin_ns_ == 0) return;  // never started: start() arms everything
  // A disarmed target stopped at its first slot that was the successor's,
  // which nobody fired: it is due again (at once if overdue).
  for (Target& t : targets_) t.armed = true;
  for (Wakeup& w : wakeups_) arm(&w);
}

void Engine::maybe_idle() {
  if (phase_ != Phase::Retired || !on_idle_ || in_flight() != 0 || !waiting_.empty() || !idle_check_) return;
  // Deferred: the caller may be inside curl's or our own callback stack.
  uv_timer_start(idle_check_.get(), &Engine::on_uv_idle_check, 0, 0);
}

void Engine::on_uv_idle_check(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Engine*>(handle->data);
  if (self == nullptr || self->in_flight() != 0 || !self->waiting_.empty() || self->phase_ != Phase::Retired ||
      !self->on_idle_)
    return;
  self->set_phase(Phase::Idle);
  std::function<void()> cb = std::move(self->on_idle_);
  self->on_idle_ = nullptr;
  cb();
}

void Engine::abort() {
  if (phase_ == Phase::CuttingOver) {
    // Not waiting for the cut-over either.
    for (Target& t : targets_) t.armed = false;
    for (Wakeup& w : wakeups_)
      if (w.timer) uv_timer_stop(w.timer.get());
    before_stop_ = 0;
    set_phase(Phase::Retired);
  }
  for (const Waiting& w : waiting_) {
    targets_[w.target].waiting = false;
    skip_slot(&targets_[w.target], SkipReason::Busy);
  }
  waiting_.clear();
  for (Target& t : targets_) {
    if (!t.probing()) continue;
    multi_->remove(t.probe->easy());
    pool_.give_back(std::move(t.probe));
    --in_flight_;
  }
  maybe_idle();
}

void Engine::close() {
  if (phase_ == Phase::Closed) return;
  set_phase(Phase::Closed);
  assert(in_flight() == 0);
  report_skips(true);
  for (Wakeup& w : wakeups_) w.timer.close();
  idle_check_.close();
  skip_report_.close();
  multi_.reset();  // curl_multi_cleanup; socket watchers close their uv_polls
}

std::string Engine::encode_states(const std::function<void(size_t, TargetStateRecord*)>& decorate) const {
  std::string wire;
  ControlMessage m;
  m.type = MessageType::TargetState;
  for (size_t i = 0; i < targets_.size(); ++i) {
    const Target& t = targets_[i];
    m.state = t.state.to_record(t.name, t.url);
    m.state.counters = encode_target_metrics(t.counters, t.last, &t.history);
    if (decorate) decorate(i, &m.state);
    wire += encode_message(m);
  }
  return wire;
}

std::vector<Engine::TargetRef> Engine::target_refs() const {
  std::vector<TargetRef> refs;
  refs.reserve(targets_.size());
  for (const Target& t : targets_) refs.push_back({&t.name, &t.display_url(), &t.settings()});
  return refs;
}

const TargetState& Engine::state_of(size_t i) const { return targets_[i].state; }

size_t Engine::index_of(const Target* t) const { return static_cast<size_t>(t - targets_.data()); }

// One family at a time, as the text format wants: every target's sample of
// it, then the next family. Targets whose first probe has not ended have no
// probe_* samples yet, and observer_target_up only once they are UP or DOWN.
void Engine::write_metrics(std::string* out) const {
  // As large as the last one: one allocation instead of a dozen doublings.
  out->reserve(out->size() + last_metrics_bytes_ + last_metrics_bytes_ / 8);
  size_t start = out->size();
  std::vector<std::string> labels(targets_.size());
  for (size_t i = 0; i < targets_.size(); ++i) {
    std::string& l = labels[i];
    l = "target=\"";
    append_label_value(&l, targets_[i].name);
    l += "\",url=\"";
    append_label_value(&l, targets_[i].display_url());
    l += '"';
  }
  auto gauge = [&](const char* name, const char* help, auto value_of) {
    append_family(out, name, "gauge", help);
    for (size_t i = 0; i < targets_.size(); ++i) {
      double v = 0;
      if (!value_of(targets_[i], &v)) continue;
      *out += name;
      *out += '{';
      *out += labels[i];
      *out += "} ";
      append_number(out, v);
      *out += '\n';
    }
  };
  gauge("probe_success", "Whether the last probe passed every check", [](const Target& t, double* v) {
    *v = t.last.success ? 1 : 0;
    return t.last.known;
  });
  gauge("probe_duration_seconds", "How long the last probe took", [](const Target& t, double* v) {
    *v = t.last.duration_s;
    return t.last.known;
  });
  gauge("probe_http_status_code", "Status code of the last response (0: none)", [](const Target& t, double* v) {
    *v = t.last.status;
    return t.last.known;
  });
  append_family(out, "probe_http_duration_seconds", "gauge", "Duration of each phase of the last probe");
  for (size_t p = 0; p < 5; ++p)
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (!targets_[i].last.known) continue;
      *out += "probe_http_duration_seconds{";
      *out += labels[i];
      *out += ",phase=\"";
      *out += kPhaseNames[p];
      *out += "\"} ";
      append_number(out, targets_[i].last.phases_s[p]);
      *out += '\n';
    }
  gauge("probe_ssl_earliest_cert_expiry", "Expiry of the server's certificate, in unix seconds",
        [](const Target& t, double* v) {
          *v = static_cast<double>(t.last.cert_expiry_unix);
          return t.last.cert_expiry_unix != 0;
        });
  gauge("observer_target_up", "1 while the target is UP, 0 while DOWN; absent until its first state",
        [](const Target& t, double* v) {
          TargetHealth h = t.state.health();
          *v = h == TargetHealth::Up ? 1 : 0;
          return h != TargetHealth::Unknown;
        });
  append_family(out, "observer_probes_total", "counter", "Slots of the target, by result (skipped: not probed)");
  for (size_t i = 0; i < targets_.size(); ++i) {
    const TargetCounters& c = targets_[i].counters;
    const std::pair<const char*, uint64_t> results[] = {{"success", c.success}, {"failure", c.failure}, {"skipped", c.skipped}};
    for (const auto& [result, n] : results) {
      *out += "observer_probes_total{";
      *out += labels[i];
      *out += ",result=\"";
      *out += result;
      *out += "\"} ";
      append_number(out, n);
      *out += '\n';
    }
  }
  append_family(out, "observer_probe_failures_total", "counter", "Failed probes by the reason of their first failing check");
  for (size_t i = 0; i < targets_.size(); ++i)
    for (size_t r = 0; r < kFailureReasons; ++r) {
      uint64_t n = targets_[i].counters.failures[r];
      if (n == 0) continue;
      *out += "observer_probe_failures_total{";
      *out += labels[i];
      *out += ",reason=\"";
      *out += failure_reason_name(static_cast<FailureReason>(r));
      *out += "\"} ";
      append_number(out, n);
      *out += '\n';
    }
  append_family(out, "observer_state_changes_total", "counter", "Changes of the target between UP and DOWN");
  for (size_t i = 0; i < targets_.size(); ++i) {
    *out += "observer_state_changes_total{";
    *out += labels[i];
    *out += "} ";
    append_number(out, targets_[i].counters.state_changes);
    *out += '\n';
  }
  duration_histogram_.write("observer_probe_duration_seconds", "How long probes took", out);
  lag_histogram_.write("observer_probe_lag_seconds", "How late probes started against their schedule", out);
  append_family(out, "observer_in_flight", "gauge", "Probes running now");
  *out += "observer_in_flight ";
  append_number(out, static_cast<uint64_t>(in_flight_));
  *out += '\n';
  append_family(out, "observer_max_in_flight", "gauge", "The most probes that run at once (max_in_flight)");
  *out += "observer_max_in_flight ";
  append_number(out, static_cast<uint64_t>(max_in_flight_));
  *out += '\n';
  last_metrics_bytes_ = out->size() - start;
}

}  // namespace observer

// Read-only views for the status page and /healthz (status_page.h,
// schedule_health.h), kept apart from the probe loop above.
namespace observer {

std::vector<TargetView> Engine::target_views() const {
  std::vector<TargetView> views;
  views.reserve(targets_.size());
  for (const Target& t : targets_) {
    TargetView v;
    v.name = &t.name;
    v.url = &t.display_url();
    v.health = t.state.health();
    v.since_unix_ms = t.state.since_unix_ms();
    v.down_reason = &t.state.down_reason();
    v.last_failure = &t.last_failure;
    v.last = &t.last;
    v.counters = &t.counters;
    v.history = &t.history;
    views.push_back(v);
  }
  return views;
}

Nanos Engine::longest_probe_cycle() const {
  Nanos longest{0};
  for (const Target& t : targets_) longest = std::max(longest, t.settings().tick + t.settings().timeout);
  return longest;
}

}  // namespace observer
