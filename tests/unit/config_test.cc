#include "cmocka_prelude.h"
#include "common/alert_keys.h"
#include "common/config.h"
#include "common/ini_file.h"
#include "common/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace observer;

namespace {

// A config file in a temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/observer-config-test-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) fail_msg("mkstemp failed");
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool load(std::vector<std::string> args, Environment env, Invocation* inv, std::string* err) {
  return load_invocation(args, env, inv, err);
}

Config load_ok(std::vector<std::string> args, Environment env = {}) {
  Invocation inv;
  std::string err;
  if (!load(args, env, &inv, &err)) fail_msg("load failed: %s", err.c_str());
  return inv.config;
}

std::string load_err(std::vector<std::string> args, Environment env = {}) {
  Invocation inv;
  std::string err;
  if (load(args, env, &inv, &err)) fail_msg("load unexpectedly succeeded");
  return err;
}

RawValue raw(const TargetConfig& t, const char* key) {
  std::optional<RawValue> v = t.value(key);
  if (!v) fail_msg("no raw value for %s", key);
  return *v;
}

// tests/data/seed.conf is the seed project's observer.conf, byte for byte.
void seed_file_loads_unchanged(void**) {
  struct {
    std::string path() const { return OBSERVER_TEST_DATA_DIR "/seed.conf"; }
  } f;
  Config c = load_ok({"-config", f.path()});
  assert_int_equal(c.targets.size(), 1);
  const TargetConfig& t = c.targets[0];
  assert_string_equal(t.url.c_str(), "https://ieftimov.com");
  assert_true(t.settings->status.matches(500));
  assert_false(t.settings->status.matches(200));
  assert_int_equal(t.settings->tick.count(), 30000000000LL);
  assert_string_equal(t.settings->server->c_str(), "cloudflare");
  assert_string_equal(t.settings->content_type->c_str(), "text/html; charset=utf-8");
  assert_string_equal(t.settings->user_agent.substr(0, 9).c_str(), "observer/");
  assert_string_equal(raw(t, "status").origin.describe().c_str(), (f.path() + ":1").c_str());
  assert_string_equal(raw(t, "user_agent").origin.describe().c_str(), (f.path() + ":6").c_str());
}

// The issue's example, step by step: flag, then env, then file, then default.
void tick_precedence_is_flag_env_file_default(void**) {
  TempFile f("url=http://127.0.0.1:1/\ntick=3s\n");
  Environment env = {{"OBSERVER_TICK", "5s"}};
  Config c = load_ok({"-check-config", "-config", f.path(), "-tick=7s"}, env);
  assert_int_equal(c.targets[0].settings->tick.count(), 7000000000LL);
  assert_string_equal(raw(c.targets[0], "tick").origin.describe().c_str(), "flag -tick");
  c = load_ok({"-config", f.path()}, env);
  assert_int_equal(c.targets[0].settings->tick.count(), 5000000000LL);
  assert_string_equal(raw(c.targets[0], "tick").origin.describe().c_str(), "env OBSERVER_TICK");
  c = load_ok({"-config", f.path()});
  assert_int_equal(c.targets[0].settings->tick.count(), 3000000000LL);
  assert_string_equal(raw(c.targets[0], "tick").origin.describe().c_str(), (f.path() + ":2").c_str());
  TempFile no_tick("url=http://127.0.0.1:1/\n");
  c = load_ok({"-config", no_tick.path()});
  assert_int_equal(c.targets[0].settings->tick.count(), 60000000000LL);
  assert_string_equal(raw(c.targets[0], "tick").origin.describe().c_str(), "default");
}

void config_path_comes_from_env_when_no_flag(void**) {
  TempFile f("url=http://127.0.0.1:1/a\n");
  TempFile g("url=http://127.0.0.1:1/b\n");
  Config c = load_ok({}, {{"OBSERVER_CONFIG", f.path()}});
  assert_string_equal(c.targets[0].url.c_str(), "http://127.0.0.1:1/a");
  c = load_ok({"-config=" + g.path()}, {{"OBSERVER_CONFIG", f.path()}});
  assert_string_equal(c.targets[0].url.c_str(), "http://127.0.0.1:1/b");
}

void flags_accept_every_go_form(void**) {
  for (std::vector<std::string> args : {std::vector<std::string>{"-url=http://127.0.0.1:1/"},
                                        {"-url", "http://127.0.0.1:1/"},
                                        {"--url=http://127.0.0.1:1/"},
                                        {"--url", "http://127.0.0.1:1/"}}) {
    Config c = load_ok(args);
    assert_string_equal(c.targets[0].url.c_str(), "http://127.0.0.1:1/");
  }
}

void bool_flag_needs_no_value(void**) {
  Config c = load_ok({"-insecure", "-url=http://127.0.0.1:1/"});
  assert_true(c.targets[0].settings->insecure);
  c = load_ok({"-insecure=false", "-url=http://127.0.0.1:1/"});
  assert_false(c.targets[0].settings->insecure);
}

void flag_and_env_override_every_section_but_not_urls(void**) {
  TempFile f("tick=10s\n[a]\nurl=http://127.0.0.1:1/a\ntick=20s\n[b]\nurl=http://127.0.0.1:1/b\n");
  Config c = load_ok({"-config", f.path(), "-tick=1s"});
  assert_int_equal(c.targets.size(), 2);
  assert_string_equal(c.targets[0].name.c_str(), "a");
  assert_int_equal(c.targets[0].settings->tick.count(), 1000000000LL);
  assert_int_equal(c.targets[1].settings->tick.count(), 1000000000LL);
  c = load_ok({"-config", f.path()});
  assert_int_equal(c.targets[0].settings->tick.count(), 20000000000LL);
  assert_int_equal(c.targets[1].settings->tick.count(), 10000000000LL);  // top-level default
  // A URL flag adds the top-level target; sections keep their own URLs.
  c = load_ok({"-config", f.path(), "-url=http://127.0.0.1:1/top"});
  assert_int_equal(c.targets.size(), 3);
  assert_string_equal(c.targets[0].name.c_str(), "default");
  assert_string_equal(c.targets[1].url.c_str(), "http://127.0.0.1:1/a");
}

// Every layer at once, for a section target: flag > env > its section > top
// level > default, with each value's origin; a section's url is its own.
void precedence_holds_for_every_layer_of_a_section(void**) {
  TempFile f("tick=10s\nstatus=200\nserver=top\nmethod=HEAD\nurl=http://127.0.0.1:1/top\n"
             "[a]\nurl=http://127.0.0.1:1/a\nserver=a\nmethod=POST\ncontent_type=text/a\n"
             "[b]\nurl=http://127.0.0.1:1/b\n");
  Environment env = {{"OBSERVER_SERVER", "env"}, {"OBSERVER_METHOD", "PUT"}, {"OBSERVER_URL", "http://127.0.0.1:1/env"}};
  Config c = load_ok({"-config", f.path(), "-method=DELETE"}, env);
  assert_int_equal(c.targets.size(), 3);
  const TargetConfig& top = c.targets[0];
  const TargetConfig& a = c.targets[1];
  const TargetConfig& b = c.targets[2];
  assert_string_equal(top.url.c_str(), "http://127.0.0.1:1/env");
  assert_string_equal(raw(top, "url").origin.describe().c_str(), "env OBSERVER_URL");
  assert_string_equal(a.url.c_str(), "http://127.0.0.1:1/a");
  assert_string_equal(raw(a, "url").origin.describe().c_str(), (f.path() + ":7").c_str());
  // flag over env over section
  assert_string_equal(a.settings->method.c_str(), "DELETE");
  assert_string_equal(raw(a, "method").origin.describe().c_str(), "flag -method");
  // env over section and top level
  assert_string_equal(a.settings->server->c_str(), "env");
  assert_string_equal(raw(b, "server").origin.describe().c_str(), "env OBSERVER_SERVER");
  // section over top level; another section does not see it
  assert_string_equal(a.settings->content_type->c_str(), "text/a");
  assert_string_equal(raw(a, "content_type").origin.describe().c_str(), (f.path() + ":10").c_str());
  assert_false(b.settings->content_type.has_value());
  assert_false(b.value("content_type").has_value());
  // top level over default
  assert_int_equal(b.settings->tick.count(), 10000000000LL);
  assert_string_equal(raw(b, "tick").origin.describe().c_str(), (f.path() + ":1").c_str());
  assert_string_equal(raw(b, "status").text.c_str(), "200");
  // default
  assert_string_equal(raw(b, "max_body").origin.describe().c_str(), "default");
  assert_string_equal(raw(b, "max_body").text.c_str(), "1MiB");
  // a global key is no target's
  assert_false(b.value("log_format").has_value());
}

// Sections that set the same values share their settings; the origins they
// report stay their own.
void sections_with_the_same_values_share_settings_but_not_origins(void**) {
  TempFile f("[a]\nurl=http://127.0.0.1:1/a\ntick=5s\n[b]\nurl=http://127.0.0.1:1/b\n"
             "[c]\ntick=5s\nurl=http://127.0.0.1:1/c\n[d]\nurl=http://127.0.0.1:1/d\ntick=7s\n");
  Config c = load_ok({"-config", f.path()});
  assert_int_equal(c.targets.size(), 4);
  assert_ptr_equal(c.targets[0].settings.get(), c.targets[2].settings.get());
  assert_ptr_not_equal(c.targets[0].settings.get(), c.targets[1].settings.get());
  assert_ptr_not_equal(c.targets[0].settings.get(), c.targets[3].settings.get());
  assert_int_equal(c.targets[1].settings->tick.count(), 60000000000LL);
  assert_int_equal(c.targets[3].settings->tick.count(), 7000000000LL);
  assert_string_equal(raw(c.targets[0], "tick").origin.describe().c_str(), (f.path() + ":3").c_str());
  assert_string_equal(raw(c.targets[2], "tick").origin.describe().c_str(), (f.path() + ":7").c_str());
  assert_string_equal(raw(c.targets[2], "url").origin.describe().c_str(), (f.path() + ":8").c_str());
  // The timeout capped at a section's own tick is that section's.
  TempFile g("tick=2s\n[a]\nurl=http://127.0.0.1:1/a\n[b]\nurl=http://127.0.0.1:1/b\ntick=20s\n");
  c = load_ok({"-config", g.path()});
  assert_int_equal(c.targets[0].settings->timeout.count(), 2000000000LL);
  assert_string_equal(raw(c.targets[0], "timeout").origin.describe().c_str(), "default, capped at tick");
  assert_int_equal(c.targets[1].settings->timeout.count(), 10000000000LL);
  assert_string_equal(raw(c.targets[1], "timeout").origin.describe().c_str(), "default");
}

// The supervisor reads the flags, the environment and the file up to its
// first [section]: what is wrong there it reports itself, the sections are
// the worker's.
void process_settings_check_all_but_the_sections(void**) {
  auto settings = [](std::vector<std::string> args, Environment env, GlobalConfig* g, std::string* err) {
    Action action = Action::Run;
    return load_process_settings(args, env, &action, g, err);
  };
  GlobalConfig g;
  std::string err;
  TempFile ok("log_format=json\nreload_timeout=3s\n[a]\nurl=http://127.0.0.1:1/a\n");
  assert_true(settings({"-config", ok.path(), "-shutdown_timeout=4s"}, {}, &g, &err));
  assert_int_equal(static_cast<int>(g.log_format), static_cast<int>(LogFormat::Json));
  assert_int_equal(g.reload_timeout.count(), 3000000000LL);
  assert_int_equal(g.shutdown_timeout.count(), 4000000000LL);
  // A broken section is not read here (the worker reports it) ...
  TempFile section_bad("log_format=json\n[a]\nurl=http://127.0.0.1:1/a\nstauts=200\n[b]\nno url here\n");
  assert_true(settings({"-config", section_bad.path()}, {}, &g, &err));
  // ... but everything before the first section is.
  TempFile top_bad("stauts=200\n[a]\nurl=http://127.0.0.1:1/a\n");
  assert_false(settings({"-config", top_bad.path()}, {}, &g, &err));
  assert_contains(err, top_bad.path() + ":1: unknown key \"stauts\"");
  TempFile top_value_bad("url=http://127.0.0.1:1/\ntick=5x\n[a]\nurl=http://127.0.0.1:1/a\n");
  assert_false(settings({"-config", top_value_bad.path()}, {}, &g, &err));
  assert_contains(err, top_value_bad.path() + ":2: tick: invalid duration");
  // A flag's value applies to every target: checked even with sections only.
  assert_false(settings({"-config", ok.path(), "-tick=soon"}, {}, &g, &err));
  assert_contains(err, "flag -tick: invalid duration");
  assert_false(settings({"-config", ok.path()}, {{"OBSERVER_STATUS", "2zz"}}, &g, &err));
  assert_contains(err, "OBSERVER_STATUS: invalid status");
  // A top-level value that every section overrides stays the sections' business.
  TempFile overridden("tick=soon\n[a]\nurl=http://127.0.0.1:1/a\ntick=1s\n");
  assert_true(settings({"-config", overridden.path()}, {}, &g, &err));
  // No sections and no URL: the same message as the worker's.
  TempFile none("tick=5s\n");
  assert_false(settings({"-config", none.path()}, {}, &g, &err));
  assert_contains(err, "OBSERVER_URL");
  assert_false(settings({"-config", "/nonexistent/observer.conf"}, {}, &g, &err));
  assert_contains(err, "/nonexistent/observer.conf: cannot open");
  // -check-config, -help, -version: nothing but the flags is read.
  Action action = Action::Run;
  assert_true(load_process_settings({"-check-config", "-config", "/nonexistent"}, {}, &action, &g, &err));
  assert_int_equal(static_cast<int>(action), static_cast<int>(Action::CheckConfig));
}

void missing_url_names_all_three_ways(void**) {
  std::string err = load_err({});
  assert_contains(err, "-url=");
  assert_contains(err, "OBSERVER_URL");
  assert_contains(err, "url=");
  TempFile f("tick=5s\n");
  err = load_err({"-config", f.path()});
  assert_contains(err, "OBSERVER_URL");
  assert_contains(err, f.path());
}

void section_without_url_is_an_error_with_its_line(void**) {
  TempFile f("[a]\nurl=http://127.0.0.1:1/a\n[b]\ntick=5s\n");
  std::string err = load_err({"-config", f.path()});
  assert_contains(err, f.path() + ":3: section [b] has no url=");
}

void unknown_key_suggests_the_closest(void**) {
  TempFile f("url=http://127.0.0.1:1/\nstauts=200\n");
  std::string err = load_err({"-config", f.path()});
  assert_contains(err, f.path() + ":2: unknown key \"stauts\"");
  assert_contains(err, "did you mean \"status\"?");
  err = load_err({"-tikc=5s", "-url=http://127.0.0.1:1/"});
  assert_contains(err, "unknown flag -tikc (did you mean -tick?)");
  err = load_err({"-url=http://127.0.0.1:1/"}, {{"OBSERVER_SERVRE", "x"}});
  assert_contains(err, "unknown environment variable OBSERVER_SERVRE (did you mean OBSERVER_SERVER?)");
}

void duplicate_keys_and_sections_are_errors(void**) {
  TempFile f("url=http://127.0.0.1:1/\ntick=5s\ntick=6s\n");
  std::string err = load_err({"-config", f.path()});
  assert_contains(err, f.path() + ":3: duplicate key \"tick\", first set at " + f.path() + ":2");
  TempFile s("[a]\nurl=http://127.0.0.1:1/\n[a]\nurl=http://127.0.0.1:1/\n");
  err = load_err({"-config", s.path()});
  assert_contains(err, s.path() + ":3: duplicate section [a]");
  err = load_err({"-tick=1s", "-tick=2s", "-url=http://127.0.0.1:1/"});
  assert_contains(err, "given twice");
}

void long_line_is_reported_not_cut(void**) {
  std::string value(kIniMaxLineLength - 4, 'a');  // "url=" + value: exactly at the limit
  TempFile ok("url=http://127.0.0.1:1/\nbody_contains=" + value.substr(0, kIniMaxLineLength - 14) + "\n");
  Config c = load_ok({"-config", ok.path()});
  assert_int_equal(c.targets[0].settings->body_contains->size(), kIniMaxLineLength - 14);
  TempFile f("url=http://127.0.0.1:1/\nbody_contains=" + std::string(300, 'b') + "\n");
  std::string err = load_err({"-config", f.path()});
  assert_contains(err, f.path() + ":2: line is 314 characters long");
}

// Found by fuzz_config: inih cuts names at 49 bytes, which once made a
// section's keys land nowhere.
void long_section_and_key_names_are_reported_not_cut(void**) {
  TempFile s("[" + std::string(60, 's') + "]\nurl=http://127.0.0.1:1/\n");
  assert_contains(load_err({"-config", s.path()}), s.path() + ":1: section name is 60 characters long");
  TempFile k("url=http://127.0.0.1:1/\nrequest_header." + std::string(40, 'H') + "=v\n");
  assert_contains(load_err({"-config", k.path()}), k.path() + ":2: key name is 55 characters long");
  TempFile ok("[" + std::string(49, 's') + "]\nurl=http://127.0.0.1:1/\n");
  Config c = load_ok({"-config", ok.path()});
  assert_int_equal(c.targets[0].name.size(), 49);
}

// Found in review: inih cut "text/html ; charset=utf-8" to "text/html".
void inline_comment_in_a_value_is_reported_not_cut(void**) {
  TempFile f("url=http://127.0.0.1:1/\ncontent_type=text/html ; charset=utf-8\n");
  assert_contains(load_err({"-config", f.path()}), f.path() + ":2: \" ;\" in a value starts an inline comment");
  TempFile c("url=http://127.0.0.1:1/\ntick=30s ; every half minute\n");
  assert_contains(load_err({"-config", c.path()}), c.path() + ":2:");
  // The seed's own "text/html; charset=utf-8" has no space before ';' and stays whole.
  TempFile seed("url=http://127.0.0.1:1/\ncontent_type=text/html; charset=utf-8\n; a comment line\n");
  Config cfg = load_ok({"-config", seed.path()});
  assert_string_equal(cfg.targets[0].settings->content_type->c_str(), "text/html; charset=utf-8");
}

void indented_continuation_line_is_reported(void**) {
  TempFile f("url=http://127.0.0.1:1/\nserver=nginx\n  cloudflare\n");
  std::string err = load_err({"-config", f.path()});
  assert_contains(err, f.path() + ":3: line starts with white space");
}

void bad_values_name_their_source(void**) {
  TempFile f("url=http://127.0.0.1:1/\ntick=5x\n");
  assert_contains(load_err({"-config", f.path()}), f.path() + ":2: tick: invalid duration \"5x\": unknown unit");
  assert_contains(load_err({"-url=http://127.0.0.1:1/", "-tick=0s"}), "flag -tick: must be greater than zero");
  assert_contains(load_err({"-url=http://127.0.0.1:1/"}, {{"OBSERVER_STATUS", "2zz"}}),
                  "OBSERVER_STATUS: invalid status \"2zz\"");
  assert_contains(load_err({"-url=ftp://127.0.0.1/"}), "flag -url: \"ftp://127.0.0.1/\" is not an http:// or https:// URL");
  assert_contains(load_err({"-url=http://127.0.0.1:1/", "-insecure=maybe"}), "invalid boolean");
  assert_contains(load_err({"-url=http://127.0.0.1:1/", "-max_body=1XB"}), "invalid size unit");
  assert_contains(load_err({"-url=http://127.0.0.1:1/", "-log_format=xml"}), "(text, logfmt or json)");
  assert_contains(load_err({"stray"}), "unexpected argument \"stray\"");
  assert_contains(load_err({"-tick"}), "flag -tick needs a value");
  assert_contains(load_err({"-url=http://127.0.0.1/" + std::string(4000, 'u')}), "flag -url: URL is 4017 characters long; the limit is 4000");
  assert_contains(load_err({"-config", "/nonexistent/observer.conf"}), "/nonexistent/observer.conf: cannot open");
}

void global_key_in_a_section_is_an_error(void**) {
  TempFile f("[a]\nurl=http://127.0.0.1:1/\nlog_format=json\n");
  assert_contains(load_err({"-config", f.path()}), f.path() + ":3: \"log_format\" applies to the whole process");
}

void timeout_is_clamped_by_default_and_checked_when_set(void**) {
  Config c = load_ok({"-url=http://127.0.0.1:1/", "-tick=2s"});
  assert_int_equal(c.targets[0].settings->timeout.count(), 2000000000LL);
  c = load_ok({"-url=http://127.0.0.1:1/"});
  assert_int_equal(c.targets[0].settings->timeout.count(), 10000000000LL);
  assert_contains(load_err({"-url=http://127.0.0.1:1/", "-tick=2s", "-timeout=3s"}), "is longer than tick");
}

void dynamic_header_keys_are_collected(void**) {
  TempFile f("url=http://127.0.0.1:1/\nheader.X-Foo=bar\nheader_regex.Server=^nginx\nrequest_header.Authorization=Bearer s3cret\n");
  Config c = load_ok({"-config", f.path()});
  const TargetConfig& t = c.targets[0];
  assert_int_equal(t.settings->header_checks.size(), 2);
  assert_int_equal(t.settings->request_headers.size(), 1);
  assert_string_equal(t.settings->request_headers[0].first.c_str(), "Authorization");
  assert_string_equal(t.settings->request_headers[0].second.c_str(), "Bearer s3cret");
}

void check_config_shows_values_origins_and_masks_secrets(void**) {
  TempFile f("url=https://user:hunter2@127.0.0.1:1/\ntick=3s\nrequest_header.Authorization=Bearer s3cret\n[b]\nurl=http://127.0.0.1:1/b\n");
  Invocation inv;
  std::string err;
  assert_true(load({"-check-config", "-config", f.path(), "-status=2xx"}, {{"OBSERVER_SERVER", "nginx"}}, &inv, &err));
  assert_int_equal(static_cast<int>(inv.action), static_cast<int>(Action::CheckConfig));
  std::string out = render_effective_config(inv.config);
  assert_contains(out, "target [default]:");
  assert_contains(out, "target [b]:");
  assert_contains(out, "(" + f.path() + ":2)");
  assert_contains(out, "2xx  (flag -status)");
  assert_contains(out, "nginx  (env OBSERVER_SERVER)");
  assert_contains(out, "GET  (default)");
  assert_contains(out, "3s  (default, capped at tick)");
  assert_contains(out, "(unset, not checked)");
  assert_contains(out, "https://user:****@127.0.0.1:1/");
  assert_contains(out, "request_header.Authorization  ****");
  if (out.find("hunter2") != std::string::npos || out.find("s3cret") != std::string::npos)
    fail_msg("secret shown: %s", out.c_str());
  assert_contains(out, "2 targets, configuration OK");
}

void redact_url_masks_only_the_password(void**) {
  assert_string_equal(redact_url("https://alice:s3cr3t@example.com/x").c_str(), "https://alice:****@example.com/x");
  assert_string_equal(redact_url("https://alice@example.com/").c_str(), "https://alice@example.com/");
  assert_string_equal(redact_url("http://127.0.0.1:8080/a@b").c_str(), "http://127.0.0.1:8080/a@b");
  assert_string_equal(redact_url("http://u:p@h:1/?q=@").c_str(), "http://u:****@h:1/?q=@");
}

void help_and_version_need_no_config(void**) {
  Invocation inv;
  std::string err;
  assert_true(load({"-help"}, {}, &inv, &err));
  assert_int_equal(static_cast<int>(inv.action), static_cast<int>(Action::Help));
  assert_true(load({"--version"}, {}, &inv, &err));
  assert_int_equal(static_cast<int>(inv.action), static_cast<int>(Action::Version));
  std::string usage = usage_text("observer");
  assert_contains(usage, "-tick");
  assert_contains(usage, "[default: 60s]");
}

void sizes_parse_with_binary_and_decimal_units(void**) {
  uint64_t v = 0;
  std::string err;
  assert_true(parse_size("1MiB", &v, &err));
  assert_int_equal(v, 1048576);
  assert_true(parse_size("64KB", &v, &err));
  assert_int_equal(v, 64000);
  assert_true(parse_size("512", &v, &err));
  assert_int_equal(v, 512);
  assert_false(parse_size("MiB", &v, &err));
  assert_false(parse_size("99999999999GiB", &v, &err));
}


// Issue 13, item 1: only a regular file of bounded size is read, and opening
// one never blocks (a FIFO without a writer would hang open()).
void config_file_must_be_a_bounded_regular_file(void**) {
  assert_contains(load_err({"-config", "/dev/zero"}), "/dev/zero: not a regular file (a character device)");
  assert_contains(load_err({"-config", "/tmp"}), "/tmp: not a regular file (a directory)");
  char dir[] = "/tmp/observer-config-test-XXXXXX";
  if (mkdtemp(dir) == nullptr) fail_msg("mkdtemp failed");
  std::string fifo = std::string(dir) + "/fifo";
  if (mkfifo(fifo.c_str(), 0600) != 0) fail_msg("mkfifo failed");
  assert_contains(load_err({"-config", fifo}), fifo + ": not a regular file (a FIFO)");
  std::string text;
  bool has_sections = false;
  std::string err;
  assert_false(read_config_top_level(fifo, &text, &has_sections, &err));
  assert_contains(err, "(a FIFO)");
  unlink(fifo.c_str());
  // Sparse: 64 MiB and one byte, without writing them.
  TempFile big("url=http://127.0.0.1:9/\n");
  if (truncate(big.path().c_str(), static_cast<off_t>(kConfigMaxBytes + 1)) != 0) fail_msg("truncate failed");
  assert_contains(load_err({"-config", big.path()}), "config file is larger than 64 MiB, the limit");
  assert_false(read_config_top_level(big.path(), &text, &has_sections, &err));
  assert_contains(err, "64 MiB");
  rmdir(dir);
}

// The supervisor reads only the top level, from a file read in pieces.
void top_level_read_stops_at_the_first_section(void**) {
  TempFile f("\xEF\xBB\xBFtick=5s\nurl=http://127.0.0.1:9/\n[a]\nurl=http://127.0.0.1:9/a\n");
  std::string text, err;
  bool has_sections = false;
  assert_true(read_config_top_level(f.path(), &text, &has_sections, &err));
  assert_true(has_sections);
  assert_string_equal(text.c_str(), "\xEF\xBB\xBFtick=5s\nurl=http://127.0.0.1:9/\n");
  TempFile g("tick=5s\n");
  assert_true(read_config_top_level(g.path(), &text, &has_sections, &err));
  assert_false(has_sections);
  assert_string_equal(text.c_str(), "tick=5s\n");
  assert_int_equal(static_cast<int>(requested_action({"-check-config", "-url=x"})), static_cast<int>(Action::CheckConfig));
  assert_int_equal(static_cast<int>(requested_action({"-url=x"})), static_cast<int>(Action::Run));
}

// Item 2: what goes into a request line or header may not carry a line break.
void header_values_and_method_cannot_inject_lines(void**) {
  const std::string url = "-url=http://127.0.0.1:9/";
  std::string err = load_err({url, "-user_agent=a\r\nX-Injected: 1"});
  assert_contains(err, "flag -user_agent: \"a\\r\\nX-Injected: 1\" contains a control character or line break");
  if (err.find('\n') != std::string::npos || err.find('\r') != std::string::npos) fail_msg("raw line break: %s", err.c_str());
  assert_contains(load_err({url}, {{"OBSERVER_USER_AGENT", "a\nb"}}), "OBSERVER_USER_AGENT: \"a\\nb\"");
  TempFile f("url=http://127.0.0.1:9/\nuser_agent=a\rX-Injected: 1\n");
  assert_contains(load_err({"-config", f.path()}), f.path() + ":2: user_agent: \"a\\rX-Injected: 1\"");
  assert_contains(load_err({url, "-user_agent=" + std::string(1001, 'a')}), "is 1001 characters long; the limit is 1000");
  load_ok({url, "-user_agent=" + std::string(1000, 'a')});
  load_ok({url, "-user_agent=observer probe\t(tab allowed)"});
  assert_contains(load_err({url, "-method=GET\r\nX: 1"}), "invalid method \"GET\\r\\nX: 1\"");
  assert_contains(load_err({"-url=http://127.0.0.1:9/\r\nX-Injected: 1"}), "\"http://127.0.0.1:9/\\r\\nX-Injected: 1\"");
  assert_contains(load_err({url, "-request_header.X-A=1\r\nX-B: 2"}), "flag -request_header.X-A: header names");
}

// Item 3: a tick or timeout too short to schedule is refused.
void tick_and_timeout_have_a_minimum(void**) {
  const std::string url = "-url=http://127.0.0.1:9/";
  assert_contains(load_err({url, "-tick=1ns"}), "flag -tick: 1ns is below the minimum of 10ms");
  assert_contains(load_err({url, "-tick=1us"}), "flag -tick: 1us is below the minimum of 10ms");
  assert_contains(load_err({url}, {{"OBSERVER_TICK", "9ms"}}), "OBSERVER_TICK: 9ms is below the minimum of 10ms");
  assert_contains(load_err({url, "-tick=1s", "-timeout=500us"}), "flag -timeout: 500us is below the minimum of 10ms");
  Config c = load_ok({url, "-tick=10ms", "-timeout=10ms"});
  assert_true(c.targets[0].settings->tick == std::chrono::milliseconds(10));
}

// Item 8: values that pass a loose check but could never probe.
void values_that_could_never_work_are_refused_at_load(void**) {
  const std::string url = "-url=http://127.0.0.1:9/";
  assert_contains(load_err({"-url=http://127.0.0.1:9/\x1b[31m"}), "contains a control character at position 20");
  assert_contains(load_err({"-url=http://127.0.0.1:9/\x07"}), "\"http://127.0.0.1:9/\\x07\"");
  std::string err = load_err({url, "-method=" + std::string(5000, 'A')});
  assert_contains(err, "(1 to 32 upper-case letters");
  if (err.size() > 200) fail_msg("message repeats the whole method: %zu bytes", err.size());
  assert_contains(load_err({url, "-method=CONNECT"}), "flag -method: CONNECT opens a tunnel");
  load_ok({url, "-method=HEAD"});
  assert_contains(load_err({url, "-ca_file=/tmp"}), "flag -ca_file: \"/tmp\" is not a regular file");
  assert_contains(load_err({url, "-ca_file=/nonexistent/ca.pem"}), "No such file or directory");
  for (const char* h : {"Content-Length", "Transfer-Encoding", "Host", "host", "Upgrade"})
    assert_contains(load_err({url, std::string("-request_header.") + h + "=1"}), std::string(h) + " is set by observer");
  assert_contains(load_err({url, "-request_header.X\x1b=1"}), "flag -request_header.X\\x1b: header names");
  TempFile f("url=http://127.0.0.1:9/\nmethod=CONNECT\n");
  assert_contains(load_err({"-config", f.path()}), f.path() + ":2: method: CONNECT");
  TempFile g("url=http://127.0.0.1:9/\n[a]\nurl=http://127.0.0.1:9/a\nrequest_header.Content-Length=0\n");
  assert_contains(load_err({"-config", g.path()}), g.path() + ":4: request_header.Content-Length:");
  // An unknown variable's name is shown escaped: it may hold terminal escapes.
  err = load_err({url}, {{"OBSERVER_\x1b]0;pwned\x07", "1"}});
  assert_contains(err, "unknown environment variable OBSERVER_\\x1b]0;pwned\\x07");
  if (err.find('\x1b') != std::string::npos) fail_msg("raw escape: %s", err.c_str());
}

// Item 7: credentials in a query string and in header names are masked.
void secrets_in_query_strings_and_header_names_are_masked(void**) {
  assert_string_equal(redact_url("https://h/p?api_key=K1&x=1&token=T2#access_token=T3").c_str(),
                      "https://h/p?api_key=****&x=1&token=****#access_token=****");
  assert_string_equal(redact_url("https://u:pw@h/?sig=abc;page=2&X-Amz-Signature=s&X-Amz-Credential=c").c_str(),
                      "https://u:****@h/?sig=****;page=2&X-Amz-Signature=****&X-Amz-Credential=****");
  assert_string_equal(redact_url("https://h/?api%5Fkey=k&password=p&q=token").c_str(),
                      "https://h/?api%5Fkey=****&password=****&q=token");
  assert_string_equal(redact_url("https://h/?page=2&sort=asc").c_str(), "https://h/?page=2&sort=asc");
  for (const char* name : {"X-Passwd", "X-PW", "X-Credentials", "X-Signature", "X-Api-Tok", "Authorization", "Cookie",
                           "X-Auth-Token", "X-Session-Id", "Proxy-Authorization", "X-CSRF"})
    if (!is_secret_name(name)) fail_msg("%s not masked", name);
  for (const char* name : {"Accept", "X-Request-Id", "X-Forwarded-For", "Accept-Language", "X-Power", "X-Signal"})
    if (is_secret_name(name)) fail_msg("%s masked", name);
  Config c = load_ok({"-url=https://127.0.0.1:1/x?api_key=K1&token=T2&page=3", "-request_header.X-PW=hunter2",
                      "-request_header.X-Api-Tok=tok42"});
  assert_string_equal(c.targets[0].display_url().c_str(), "https://127.0.0.1:1/x?api_key=****&token=****&page=3");
  std::string out = render_effective_config(c);
  assert_contains(out, "https://127.0.0.1:1/x?api_key=****&token=****&page=3");
  for (const char* secret : {"K1", "T2", "hunter2", "tok42"})
    if (out.find(secret) != std::string::npos) fail_msg("secret %s shown: %s", secret, out.c_str());
}

}  // namespace

void url_scheme_is_compared_in_any_case(void**) {
  assert_true(url_has_scheme("HTTPS://example.com/", "https://"));
  assert_true(url_has_scheme("https://example.com/", "HTTPS://"));
  assert_false(url_has_scheme("http://example.com/", "https://"));
  assert_false(url_has_scheme("https:", "https://"));
}

void alert_keys_convert_per_target_with_defaults(void**) {
  TempFile f(
      "webhook_url=http://127.0.0.1:1/hook\n"
      "alertmanager_url=http://127.0.0.1:9093, http://127.0.0.1:9094/prefix/\n"
      "[a]\nurl=http://127.0.0.1:1/a\nalert_label.team=web\nwebhook_header.X-Token=s3cret\nalert_repeat=30m\n"
      "[b]\nurl=http://127.0.0.1:1/b\nwebhook_url=\nalert_on_recovery=false\nalert_retry_for=1h\n");
  Config c = load_ok({"-config", f.path()});
  const AlertSettings& a = c.targets[0].settings->alert;
  assert_string_equal(a.webhook_url.c_str(), "http://127.0.0.1:1/hook");
  assert_string_equal(a.webhook_method.c_str(), "POST");
  assert_int_equal(a.alertmanager_urls.size(), 2);
  assert_string_equal(a.alertmanager_urls[0].c_str(), "http://127.0.0.1:9093/api/v2/alerts");
  assert_string_equal(a.alertmanager_urls[1].c_str(), "http://127.0.0.1:9094/prefix/api/v2/alerts");
  assert_int_equal(a.labels.size(), 1);
  assert_int_equal(a.webhook_headers.size(), 1);
  assert_true(a.repeat == std::chrono::minutes(30));
  assert_true(a.retry_for == std::chrono::minutes(10));
  assert_true(a.on_recovery);
  const AlertSettings& b = c.targets[1].settings->alert;
  assert_true(b.webhook_url.empty());  // a section turns the default off
  assert_true(b.any());                // still the Alertmanagers
  assert_false(b.on_recovery);
  assert_true(b.retry_for == std::chrono::hours(1));
  assert_true(b.repeat.count() == 0);
  // state_file=auto: systemd's StateDirectory, else none.
  assert_true(c.global.state_file.empty());
  c = load_ok({"-config", f.path()}, {{"STATE_DIRECTORY", "/var/lib/observer:/var/lib/other"}});
  assert_string_equal(c.global.state_file.c_str(), "/var/lib/observer/state");
  c = load_ok({"-config", f.path(), "-state_file="}, {{"STATE_DIRECTORY", "/var/lib/observer"}});
  assert_true(c.global.state_file.empty());
}

void alertmanager_url_becomes_its_alerts_endpoint(void**) {
  auto is = [](const char* url, const char* want) {
    std::string got = alertmanager_endpoint(url);
    if (got != want) fail_msg("%s -> %s, not %s", url, got.c_str(), want);
  };
  is("http://am:9093", "http://am:9093/api/v2/alerts");
  is("http://am:9093/", "http://am:9093/api/v2/alerts");
  is("http://am:9093/prefix//", "http://am:9093/prefix/api/v2/alerts");
  is("http://am:9093/api/v2/alerts", "http://am:9093/api/v2/alerts");
  // Not appended twice after a trailing slash; a query stays at the end.
  is("http://am:9093/api/v2/alerts/", "http://am:9093/api/v2/alerts");
  is("https://am:9093/p/?token=x", "https://am:9093/p/api/v2/alerts?token=x");
  is("http://am:9093?token=x", "http://am:9093/api/v2/alerts?token=x");
  is("http://am:9093/api/v2/alerts?token=x", "http://am:9093/api/v2/alerts?token=x");
  is("http://am:9093/#frag", "http://am:9093/api/v2/alerts");
}

void alert_values_are_checked(void**) {
  const std::string u = "-url=http://127.0.0.1:1/";
  auto has = [](const std::string& err, const char* part) {
    if (err.find(part) == std::string::npos) fail_msg("\"%s\" lacks \"%s\"", err.c_str(), part);
  };
  has(load_err({u, "-webhook_url=ftp://127.0.0.1/"}), "is not an http:// or https:// URL");
  has(load_err({u, "-alertmanager_url=http://127.0.0.1:9093,nope"}), "flag -alertmanager_url");
  has(load_err({u, "-webhook_body={\"t\":\"{{targte}}\"}"}), "unknown placeholder \"{{targte}}\"");
  has(load_err({u, "-alert_label.alertname=x"}), "alertname is a label observer sets itself");
  has(load_err({u, "-alert_label.bad-name=x"}), "is not a Prometheus label name");
  has(load_err({u, "-alert_repeat=500ms"}), "(or off)");
  has(load_err({u, "-webhook_method=post"}), "invalid method");
  has(load_err({u, "-webhook_header.Content-Length=3"}), "is set by observer");
  // Errors never show the secrets in an alert URL.
  std::string e = load_err({u, "-webhook_url=https://hooks.slack.com/services/T0/B0/SECRETXYZ\x01"});
  has(e, "https://hooks.slack.com/****");
  if (e.find("SECRETXYZ") != std::string::npos) fail_msg("%s", e.c_str());
  e = load_err({u, "-alertmanager_url=http://u:amsecret@127.0.0.1:9093/ x"});
  has(e, "u:****@");
  if (e.find("amsecret") != std::string::npos) fail_msg("%s", e.c_str());
}

// Every row of the key table has one converter, of its scope; is found by
// its name; and its default converts when given by a flag and, but for a
// family, by the environment, with that origin.
void every_key_of_the_table_converts_from_every_source(void**) {
  for (const KeyInfo& k : known_keys()) {
    const Converter& c = k.convert;
    int converters = (c.probe != nullptr) + (c.alert != nullptr) + (c.process != nullptr) + (c.url != nullptr);
    assert_int_equal(converters, 1);
    assert_true((k.scope == KeyScope::Global) == (c.process != nullptr));
    std::string key = std::string(k.name) + (k.is_family() ? "Xname" : "");
    assert_ptr_equal(find_key(key), &k);
    if (k.default_value == nullptr) continue;
    std::vector<std::string> args = {"-url=http://example.com/", flag_form(key) + "=" + k.default_value};
    Environment env = {{"OBSERVER_URL", "http://example.com/"}, {env_form(key), k.default_value}};
    for (bool by_flag : {true, false}) {
      if (!by_flag && k.is_family()) continue;
      Config c = by_flag ? load_ok(args) : load_ok({}, env);
      Origin::Kind want = by_flag ? Origin::Kind::Flag : Origin::Kind::Env;
      if (k.scope == KeyScope::Global) assert_int_equal(c.global.raw.at(key).origin.kind, want);
      else assert_int_equal(raw(c.targets[0], key.c_str()).origin.kind, want);
    }
  }
}

// Values convert in the table's order (as -help and -check-config list
// them): of two bad values, the one listed first is reported.
void first_error_follows_the_table_order(void**) {
  std::string err = load_err({"-url=http://example.com/", "-tick=1x", "-status=abc"});
  assert_string_equal(err.substr(0, 13).c_str(), "flag -status:");
  err = load_err({"-url=http://example.com/", "-webhook_url=ftp://x", "-request_header.Host=h"});
  assert_string_equal(err.substr(0, 26).c_str(), "flag -request_header.Host:");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(url_scheme_is_compared_in_any_case),
      cmocka_unit_test(every_key_of_the_table_converts_from_every_source),
      cmocka_unit_test(first_error_follows_the_table_order),
      cmocka_unit_test(seed_file_loads_unchanged),
      cmocka_unit_test(tick_precedence_is_flag_env_file_default),
      cmocka_unit_test(config_path_comes_from_env_when_no_flag),
      cmocka_unit_test(flags_accept_every_go_form),
      cmocka_unit_test(bool_flag_needs_no_value),
      cmocka_unit_test(flag_and_env_override_every_section_but_not_urls),
      cmocka_unit_test(precedence_holds_for_every_layer_of_a_section),
      cmocka_unit_test(sections_with_the_same_values_share_settings_but_not_origins),
      cmocka_unit_test(process_settings_check_all_but_the_sections),
      cmocka_unit_test(missing_url_names_all_three_ways),
      cmocka_unit_test(section_without_url_is_an_error_with_its_line),
      cmocka_unit_test(unknown_key_suggests_the_closest),
      cmocka_unit_test(alert_keys_convert_per_target_with_defaults),
      cmocka_unit_test(alert_values_are_checked),
      cmocka_unit_test(alertmanager_url_becomes_its_alerts_endpoint),
      cmocka_unit_test(duplicate_keys_and_sections_are_errors),
      cmocka_unit_test(long_line_is_reported_not_cut),
      cmocka_unit_test(long_section_and_key_names_are_reported_not_cut),
      cmocka_unit_test(inline_comment_in_a_value_is_reported_not_cut),
      cmocka_unit_test(indented_continuation_line_is_reported),
      cmocka_unit_test(bad_values_name_their_source),
      cmocka_unit_test(global_key_in_a_section_is_an_error),
      cmocka_unit_test(timeout_is_clamped_by_default_and_checked_when_set),
      cmocka_unit_test(dynamic_header_keys_are_collected),
      cmocka_unit_test(check_config_shows_values_origins_and_masks_secrets),
      cmocka_unit_test(redact_url_masks_only_the_password),
      cmocka_unit_test(help_and_version_need_no_config),
      cmocka_unit_test(sizes_parse_with_binary_and_decimal_units),
      cmocka_unit_test(config_file_must_be_a_bounded_regular_file),
      cmocka_unit_test(top_level_read_stops_at_the_first_section),
      cmocka_unit_test(header_values_and_method_cannot_inject_lines),
      cmocka_unit_test(tick_and_timeout_have_a_minimum),
      cmocka_unit_test(values_that_could_never_work_are_refused_at_load),
      cmocka_unit_test(secrets_in_query_strings_and_header_names_are_masked),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
