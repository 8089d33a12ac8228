/* The C side of bindings/ruby/bench/bench.rb, loaded into the same Ruby
 * process (scripts/bench.sh builds it as a shared library): the same loops
 * straight through the C ABI, each run as one call with the GVL released,
 * so the C and the Ruby batches share the client, the thread and the load. */
#include <string.h>
#include <time.h>
#include "zkutil.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per call of n zku_strerror calls. */
double zkb_strerror_loop(int n) {
    volatile size_t sink = 0;
    double start = now_ns();
    for (int i = 0; i < n; i++) sink += (size_t)zku_strerror(ZKU_ENONODE)[0];
    return (now_ns() - start) / n;
}

/* ns per call of n gets of path (data copied out, as the gem does), or -1
 * on error. */
double zkb_get_loop(const zku_client *client, const char *path, int n) {
    volatile size_t sink = 0;
    double start = now_ns();
    for (int i = 0; i < n; i++) {
        zku_buf *buf = NULL;
        zku_stat stat;
        if (zku_client_get(client, path, 10000, NULL, &buf, &stat, NULL) != ZKU_OK) return -1;
        char copy[64];
        size_t len = zku_buf_len(buf);
        memcpy(copy, zku_buf_data(buf), len < sizeof copy ? len : sizeof copy);
        sink += (size_t)copy[0];
        zku_buf_free(buf);
    }
    return (now_ns() - start) / n;
}
