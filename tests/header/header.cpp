// The header compiles as C++17 with -Wall -Wextra -Wpedantic -Werror, its
// functions with C linkage.
#include "zkutil.h"

#include <type_traits>

static_assert(std::is_same<decltype(&zku_strerror), const char *(*)(zku_rc)>::value, "C linkage signature");

int zku_header_cxx17_check();
int zku_header_cxx17_check() {
    zku_stat stat{};
    return static_cast<int>(sizeof stat) + ZKU_OK;
}
