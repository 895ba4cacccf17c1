// Include first in every cmocka test: cmocka defines macros such as fail()
// that clash with the standard library, so the C++ headers the tests use come
// before it, and its C declarations need C linkage.
#pragma once
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

// Asserts that `haystack` contains `needle`, printing both when it does not.
#define assert_contains(haystack, needle)                                                   \
  do {                                                                                      \
    const std::string h_ = (haystack);                                                      \
    const std::string n_ = (needle);                                                        \
    if (h_.find(n_) == std::string::npos) fail_msg("expected \"%s\" in \"%s\"", n_.c_str(), h_.c_str()); \
  } while (0)
