// The converters of the alert keys (webhook_*, alert_*, alertmanager_url),
// one per row of the key table (keys.cc), into a target's AlertSettings.
#pragma once

#include <cstddef>
#include <string>

#include "common/keys.h"

namespace observer {

ConvertAlert convert_webhook_url, convert_webhook_method, convert_webhook_headers, convert_webhook_body,
    convert_alert_on_recovery, convert_alert_repeat, convert_alertmanager_url, convert_alert_labels,
    convert_alert_retry_for;

// The placeholders a webhook_body may hold ("{{target}}", ...).
extern const char* const kWebhookPlaceholders[];
extern const size_t kWebhookPlaceholderCount;
// An Alertmanager base URL as its alerts endpoint: "http://am:9093" and
// "http://am:9093/" -> "http://am:9093/api/v2/alerts"; a path prefix (a
// reverse proxy's) is kept; a URL already ending in /api/v2/alerts (or
// /api/v2/alerts/) is not given it twice; a query string stays last.
std::string alertmanager_endpoint(const std::string& url);

}  // namespace observer
