// The converters of the process-wide keys, one per row of the key table
// (keys.cc), into GlobalConfig.
#pragma once

#include "common/keys.h"

namespace observer {

ConvertProcess convert_log_format, convert_shutdown_timeout, convert_reload_timeout, convert_listen,
    convert_state_file, convert_max_in_flight, convert_shard;

}  // namespace observer
