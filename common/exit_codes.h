// The exit codes both processes use, as DESIGN.md fixes them (sysexits.h
// names): 0 a graceful stop, 70 an internal error, 78 a configuration
// error. Anything else is a worker's status passed through.
#pragma once

namespace observer {

constexpr int kExitOk = 0;
constexpr int kExitSoftware = 70;  // EX_SOFTWARE
constexpr int kExitConfig = 78;    // EX_CONFIG

}  // namespace observer
