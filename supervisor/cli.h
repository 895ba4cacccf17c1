// The `observer` command: flags that print and exit (-help, -version,
// -check-config), the start-up config check, locating the worker, and the
// exit code. main() is only this call.
#pragma once

namespace observer {

// Returns the process exit code: 0 stopped cleanly, 78 configuration error,
// 70 internal error (e.g. the worker executable is missing).
int supervisor_main(int argc, char** argv);

}  // namespace observer
