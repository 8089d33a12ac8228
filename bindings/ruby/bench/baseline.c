/* The C side of bindings/ruby/bench/bench.rb: ns per call of the same loops
 * straight through the C ABI. Usage: baseline HOSTS PATH N
 * Prints "strerror NS" and "get NS". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "zkutil.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: baseline HOSTS PATH N\n");
        return 2;
    }
    int n = atoi(argv[3]);
    zku_config *config = NULL;
    zku_client *client = NULL;
    if (zku_config_new(&config, NULL) != ZKU_OK || zku_config_set_hosts(config, argv[1], NULL) != ZKU_OK ||
        zku_client_new(config, NULL, &client, NULL) != ZKU_OK) {
        fprintf(stderr, "baseline: cannot connect to %s\n", argv[1]);
        return 1;
    }
    volatile size_t sink = 0;
    int helper_n = n * 50;
    double start = now_ns();
    for (int i = 0; i < helper_n; i++) sink += (size_t)zku_strerror(ZKU_ENONODE)[0];
    printf("strerror %.1f\n", (now_ns() - start) / helper_n);
    start = now_ns();
    for (int i = 0; i < n; i++) {
        zku_buf *buf = NULL;
        zku_stat stat;
        if (zku_client_get(client, argv[2], 10000, NULL, &buf, &stat, NULL) != ZKU_OK) return 1;
        sink += zku_buf_len(buf);
        zku_buf_free(buf);
    }
    printf("get %.1f\n", (now_ns() - start) / n);
    zku_client_free(client);
    zku_config_free(config);
    return 0;
}
