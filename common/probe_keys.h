// The converters of the probe keys (what a target's probe sends and
// expects), one per row of the key table (keys.cc), into TargetSettings.
#pragma once

#include "common/keys.h"

namespace observer {

ConvertProbe convert_status, convert_tick, convert_server, convert_content_type, convert_user_agent, convert_method,
    convert_timeout, convert_follow_redirects, convert_max_redirects, convert_reuse_connections, convert_ip_version,
    convert_insecure, convert_ca_file, convert_max_body, convert_body_contains, convert_body_regex,
    convert_max_response_time, convert_cert_min_days, convert_failure_threshold, convert_success_threshold,
    convert_header_checks, convert_header_regex_checks, convert_request_headers;

// timeout's check against tick: a timeout set longer than tick is an error;
// the default one is cut to tick (TargetSettings::timeout_capped).
ConvertProbe check_timeout_against_tick;

}  // namespace observer
