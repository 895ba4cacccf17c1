// The alert keys of a target (webhook_*, alert_*, alertmanager_url): their
// conversion into AlertSettings (config.h) and how their values may be shown.
#pragma once

#include <string>

#include "common/config.h"

namespace observer {

// Whether `key` is one of the alert keys or families.
bool is_alert_key(const std::string& key);
// The alert keys that are not families, in the order they are converted.
extern const char* const kAlertKeys[];
extern const size_t kAlertKeyCount;
// Converts one alert value into `a`; false with a message citing its origin.
bool convert_alert_value(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error);
// The placeholders a webhook_body may hold ("{{target}}", ...).
extern const char* const kWebhookPlaceholders[];
extern const size_t kWebhookPlaceholderCount;
// An Alertmanager base URL as its alerts endpoint: "http://am:9093" and
// "http://am:9093/" -> "http://am:9093/api/v2/alerts"; a path prefix (a
// reverse proxy's) is kept; a URL already ending in /api/v2/alerts (or
// /api/v2/alerts/) is not given it twice; a query string stays last.
std::string alertmanager_endpoint(const std::string& url);

}  // namespace observer
