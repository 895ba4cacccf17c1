// observer: the supervisor process users and init systems run. See
// supervisor.h for what it does and cli.h for its command line.
#include "supervisor/cli.h"

int main(int argc, char** argv) { return observer::supervisor_main(argc, argv); }
