// The C++ header compiles alone as C++17 with -Wall -Wextra -Wpedantic
// -Werror: nothing included before it.
#include "zkutil.hpp"

int zku_header_hpp_check();
int zku_header_hpp_check() { return static_cast<int>(zkutil::forever.count()); }
