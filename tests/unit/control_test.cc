#include "cmocka_prelude.h"
#include "common/control.h"

#include <cstring>

using namespace observer;

namespace {

TargetStateRecord sample_state() {
  TargetStateRecord s;
  s.name = "api";
  s.url = "http://127.0.0.1:8080/health";
  s.health = TargetHealth::Down;
  s.since_unix_ms = 1700000000123;
  s.consecutive_failures = 3;
  s.consecutive_successes = 0;
  s.probes = 42;
  s.failures = 7;
  s.last_reason = "Status code mismatch, got: 500";
  return s;
}

void state_round_trips_when_fed_byte_by_byte(void**) {
  ControlMessage in;
  in.type = MessageType::TargetState;
  in.state = sample_state();
  std::string wire = encode_message(in) + encode_message(control_message(MessageType::StateEnd));
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  for (char c : wire) {
    assert_true(dec.feed(&c, 1, &err));
  }
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::TargetState));
  assert_string_equal(out.state.name.c_str(), "api");
  assert_string_equal(out.state.url.c_str(), in.state.url.c_str());
  assert_int_equal(static_cast<int>(out.state.health), static_cast<int>(TargetHealth::Down));
  assert_int_equal(out.state.since_unix_ms, 1700000000123LL);
  assert_int_equal(out.state.consecutive_failures, 3);
  assert_int_equal(out.state.probes, 42);
  assert_int_equal(out.state.failures, 7);
  assert_string_equal(out.state.last_reason.c_str(), in.state.last_reason.c_str());
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::StateEnd));
  assert_false(dec.next(&out));
}

void config_error_carries_its_message(void**) {
  ControlMessage in;
  in.type = MessageType::ConfigError;
  in.text = "a.conf:2: body_regex: bad regular expression";
  std::string wire = encode_message(in);
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::ConfigError));
  assert_string_equal(out.text.c_str(), in.text.c_str());
  // Trailing bytes past the message are a malformed frame.
  std::string padded = wire + "x";
  uint32_t len = static_cast<uint32_t>(padded.size() - 8);
  std::memcpy(&padded[4], &len, 4);
  ControlDecoder dec2;
  assert_false(dec2.feed(padded.data(), padded.size(), &err));
  assert_contains(err, "malformed config-error");
}

void partial_message_waits_for_the_rest(void**) {
  std::string wire = encode_message(control_message(MessageType::Ready));
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), 5, &err));
  assert_false(dec.next(&out));
  assert_true(dec.feed(wire.data() + 5, wire.size() - 5, &err));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::Ready));
}

std::string frame(uint16_t type, uint16_t reserved, uint32_t len, const std::string& payload) {
  std::string b(8, '\0');
  std::memcpy(&b[0], &type, 2);
  std::memcpy(&b[2], &reserved, 2);
  std::memcpy(&b[4], &len, 4);
  return b + payload;
}

void unknown_type_ends_the_channel(void**) {
  ControlDecoder dec;
  std::string err;
  std::string wire = frame(99, 0, 0, "");
  assert_false(dec.feed(wire.data(), wire.size(), &err));
  assert_contains(err, "unknown control message type 99");
}

void ready_with_a_payload_is_rejected(void**) {
  ControlDecoder dec;
  std::string err;
  std::string wire = frame(1, 0, 4, "abcd");
  assert_false(dec.feed(wire.data(), wire.size(), &err));
  assert_contains(err, "must be empty");
}

void cut_over_messages_carry_their_number(void**) {
  ControlMessage ready = control_message(MessageType::CutOverReady);
  ready.cut_over_ns = 0x0123456789abcdefULL;
  ControlMessage retire = control_message(MessageType::Retire);
  retire.cut_over_ns = 987654321;
  ControlMessage late = control_message(MessageType::CutOverLate);
  late.late_probes = 74;
  std::string wire = encode_message(ready) + encode_message(retire) + encode_message(late);
  assert_int_equal(wire.size(), 3 * (8 + 8));
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::CutOverReady));
  assert_true(out.cut_over_ns == 0x0123456789abcdefULL);
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::Retire));
  assert_int_equal(out.cut_over_ns, 987654321);
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::CutOverLate));
  assert_int_equal(out.late_probes, 74);
  assert_false(dec.next(&out));
}

void heartbeat_and_resume_are_empty_messages(void**) {
  std::string wire =
      encode_message(control_message(MessageType::Heartbeat)) + encode_message(control_message(MessageType::Resume));
  assert_int_equal(wire.size(), 2 * 8);
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::Heartbeat));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::Resume));
  assert_false(dec.next(&out));
  for (uint16_t type : {8, 9}) {
    ControlDecoder bad;
    std::string frame_with_payload = frame(type, 0, 1, "x");
    assert_false(bad.feed(frame_with_payload.data(), frame_with_payload.size(), &err));
    assert_contains(err, "must be empty");
  }
}

void cut_over_messages_must_be_exactly_eight_bytes(void**) {
  for (uint16_t type : {5, 6, 7}) {
    for (uint32_t len : {0u, 4u, 9u}) {
      ControlDecoder dec;
      std::string err;
      std::string wire = frame(type, 0, len, std::string(len, 'x'));
      assert_false(dec.feed(wire.data(), wire.size(), &err));
      assert_contains(err, "must be 8 bytes");
    }
  }
}

void oversized_length_is_rejected_before_buffering(void**) {
  ControlDecoder dec;
  std::string err;
  std::string wire = frame(2, 0, kMaxControlPayload + 1, "");
  assert_false(dec.feed(wire.data(), wire.size(), &err));
  assert_contains(err, "bad header");
  std::string reserved = frame(1, 7, 0, "");
  ControlDecoder dec2;
  assert_false(dec2.feed(reserved.data(), reserved.size(), &err));
}

void state_payload_must_be_exactly_its_fields(void**) {
  ControlMessage in;
  in.type = MessageType::TargetState;
  in.state = sample_state();
  std::string good = encode_message(in);
  std::string payload = good.substr(8);
  // One byte too many: the declared length covers junk after the fields.
  std::string longer = frame(2, 0, static_cast<uint32_t>(payload.size() + 1), payload + "x");
  ControlDecoder dec;
  std::string err;
  assert_false(dec.feed(longer.data(), longer.size(), &err));
  assert_contains(err, "malformed target-state");
  // One byte short: a string length points past the end.
  std::string shorter = frame(2, 0, static_cast<uint32_t>(payload.size() - 1), payload.substr(0, payload.size() - 1));
  ControlDecoder dec2;
  assert_false(dec2.feed(shorter.data(), shorter.size(), &err));
  // A health value outside the enum.
  std::string bad_health = payload;
  size_t health_at = 2 + in.state.name.size() + 2 + in.state.url.size();
  bad_health[health_at] = 9;
  std::string wire = frame(2, 0, static_cast<uint32_t>(bad_health.size()), bad_health);
  ControlDecoder dec3;
  assert_false(dec3.feed(wire.data(), wire.size(), &err));
}

void state_carries_its_counters_and_reads_a_record_without_them(void**) {
  ControlMessage in;
  in.type = MessageType::TargetState;
  in.state = sample_state();
  in.state.counters = {5, 6, 7, UINT64_MAX};
  std::string wire = encode_message(in);
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(out.state.counters.size(), 4);
  assert_true(out.state.counters[3] == UINT64_MAX);
  // A worker from before the counters ends the record at last_reason.
  std::string payload = wire.substr(8, wire.size() - 8 - 2 - 4 * 8);
  std::string old = frame(2, 0, static_cast<uint32_t>(payload.size()), payload);
  ControlDecoder dec2;
  assert_true(dec2.feed(old.data(), old.size(), &err));
  assert_true(dec2.next(&out));
  assert_true(out.state.counters.empty());
  assert_string_equal(out.state.last_reason.c_str(), in.state.last_reason.c_str());
}

void state_carries_its_alert_marks_and_reads_a_record_without_them(void**) {
  ControlMessage in;
  in.type = MessageType::TargetState;
  in.state = sample_state();
  in.state.counters = {5, 6};
  in.state.alert = {1, 2, UINT64_MAX};
  in.state.down_reason = "Status 503 (expected 200)";
  std::string wire = encode_message(in);
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(out.state.counters.size(), 2);
  assert_int_equal(out.state.alert.size(), 3);
  assert_true(out.state.alert[2] == UINT64_MAX);
  assert_string_equal(out.state.down_reason.c_str(), "Status 503 (expected 200)");
  // A worker from before alerts ends the record at the counters.
  std::string payload = wire.substr(8, wire.size() - 8 - 2 - 3 * 8 - 2 - in.state.down_reason.size());
  std::string old = frame(2, 0, static_cast<uint32_t>(payload.size()), payload);
  ControlDecoder dec2;
  assert_true(dec2.feed(old.data(), old.size(), &err));
  assert_true(dec2.next(&out));
  assert_int_equal(out.state.counters.size(), 2);
  assert_true(out.state.alert.empty());
  assert_true(out.state.down_reason.empty());
  // A record that nothing alerted for is as short as before.
  in.state.alert.clear();
  in.state.down_reason.clear();
  assert_int_equal(encode_message(in).size(), old.size());
  // An empty alert section is never written, so it is malformed.
  std::string empty_section = old.substr(8) + std::string(2, '\0') + std::string(2, '\0');
  std::string with_empty = frame(2, 0, static_cast<uint32_t>(empty_section.size()), empty_section);
  ControlDecoder dec4;
  assert_false(dec4.feed(with_empty.data(), with_empty.size(), &err));
  // A truncated alert section is malformed.
  std::string cut = wire.substr(8, wire.size() - 8 - 1);
  std::string bad = frame(2, 0, static_cast<uint32_t>(cut.size()), cut);
  ControlDecoder dec3;
  assert_false(dec3.feed(bad.data(), bad.size(), &err));
}

void reload_failed_carries_its_time(void**) {
  ControlMessage in = control_message(MessageType::ReloadFailed);
  in.unix_seconds = 1796274444;
  std::string wire = encode_message(in);
  ControlDecoder dec;
  std::string err;
  ControlMessage out;
  assert_true(dec.feed(wire.data(), wire.size(), &err));
  assert_true(dec.next(&out));
  assert_int_equal(static_cast<int>(out.type), static_cast<int>(MessageType::ReloadFailed));
  assert_int_equal(out.unix_seconds, 1796274444);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(state_round_trips_when_fed_byte_by_byte),
      cmocka_unit_test(config_error_carries_its_message),
      cmocka_unit_test(partial_message_waits_for_the_rest),
      cmocka_unit_test(unknown_type_ends_the_channel),
      cmocka_unit_test(ready_with_a_payload_is_rejected),
      cmocka_unit_test(cut_over_messages_carry_their_number),
      cmocka_unit_test(cut_over_messages_must_be_exactly_eight_bytes),
      cmocka_unit_test(heartbeat_and_resume_are_empty_messages),
      cmocka_unit_test(oversized_length_is_rejected_before_buffering),
      cmocka_unit_test(state_payload_must_be_exactly_its_fields),
      cmocka_unit_test(state_carries_its_counters_and_reads_a_record_without_them),
      cmocka_unit_test(state_carries_its_alert_marks_and_reads_a_record_without_them),
      cmocka_unit_test(reload_failed_carries_its_time),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
