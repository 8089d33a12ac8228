/* The header compiles as strict C11 with -Wall -Wextra -Wpedantic -Werror. */
#include "zkutil.h"
#include "zkutil.h" /* and is safe to include twice */

#if !defined(ZKU_VERSION_MAJOR) || !defined(ZKU_VERSION)
#error "version macros missing"
#endif

int zku_header_c11_check(void);
int zku_header_c11_check(void) {
    zku_stat stat = {0};
    return (int)sizeof stat + ZKU_OK;
}
