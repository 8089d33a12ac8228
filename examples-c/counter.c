/* Compare-and-swap increments from several processes on one counter node,
 * against the server in ZKU_HOSTS.
 *
 *   counter [PROCESSES [INCREMENTS]]      (default: 4 processes x 200)
 *
 * Each child process connects on its own and increments a JSON counter
 * with zku_cas_update (creating it from "0" if absent); the parent then
 * checks that the counter is exactly PROCESSES x INCREMENTS, adds one
 * more increment with the handle API (begin / commit / reread on
 * conflict), and deletes the node. Exits 0 when every count is exact. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkutil.h"

#define TIMEOUT_MS 30000

static int report(const char *what, zku_rc rc, zku_error *err) {
    if (rc != ZKU_OK) {
        fprintf(stderr, "[%ld] %s: %s (%d): %s\n", (long)getpid(), what, zku_strerror(rc), rc,
                err ? zku_error_message(err) : "");
    }
    zku_error_free(err);
    return rc;
}

#define CHECK(what, call)                                                \
    do {                                                                 \
        zku_error *err_ = NULL;                                          \
        zku_rc rc_ = (call);                                             \
        if (report(what, rc_, err_) != ZKU_OK) return 1;                 \
    } while (0)

/* zku_cas_update callback: the current value is NUL-terminated JSON text
 * (here a number); hand back the next one. Runs on the calling thread. */
static int32_t increment(void *user_data, const uint8_t *value, size_t value_len, const zku_stat *stat,
                         zku_cas_next *next) {
    (void)value_len;
    (void)stat; /* NULL while the node does not exist yet */
    unsigned *runs = user_data;
    (*runs)++;
    long n = strtol((const char *)value, NULL, 10);
    char text[32];
    int len = snprintf(text, sizeof text, "%ld", n + 1);
    zku_error *err = NULL;
    if (zku_cas_next_set(next, (const uint8_t *)text, (size_t)len, &err) != ZKU_OK) {
        zku_error_free(err);
        return -1; /* abort: zku_cas_update returns ZKU_EABORTED */
    }
    return ZKU_CAS_WRITE;
}

static zku_client *connect_client(const char *hosts) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    zku_error *err = NULL;
    zku_rc rc = zku_config_new(&config, &err);
    if (rc == ZKU_OK) rc = zku_config_set_hosts(config, hosts, &err);
    if (rc == ZKU_OK) rc = zku_client_new(config, NULL, &client, &err);
    zku_config_free(config);
    report("connect", rc, err);
    return client;
}

/* One child: INCREMENTS increments through zku_cas_update. */
static int child(const char *hosts, const char *path, long increments) {
    zku_client *client = connect_client(hosts);
    if (!client) return 1;
    unsigned runs = 0;
    long done = 0;
    int status = 0;
    for (long i = 0; i < increments; i++) {
        zku_stat stat;
        uint32_t attempts = 0;
        zku_error *err = NULL;
        zku_rc rc = zku_cas_update(client, path, ZKU_CAS_JSON | ZKU_CAS_CREATE, (const uint8_t *)"0", 1, increment,
                                   &runs, 0, TIMEOUT_MS, NULL, &stat, &attempts, &err);
        if (rc == ZKU_EUNKNOWN) {
            /* Neither failed nor done: the total can no longer be checked. */
            fprintf(stderr, "[%ld] outcome unknown: %s\n", (long)getpid(), zku_error_message(err));
            zku_error_free(err);
            status = 3;
            break;
        }
        if (report("cas_update", rc, err) != ZKU_OK) {
            status = 1;
            break;
        }
        done++;
    }
    printf("[%ld] %ld increments, %u callback runs (%u conflicts)\n", (long)getpid(), done, runs,
           runs - (unsigned)done);
    zku_client_free(client);
    return status;
}

/* One increment with the handle: read, compute, commit; re-read on conflict. */
static int increment_with_handle(zku_client *client, const char *path, long *value_after) {
    zku_cas *cas = NULL;
    CHECK("cas_begin", zku_cas_begin(client, path, ZKU_CAS_JSON, NULL, 0, TIMEOUT_MS, NULL, &cas, &err_));
    for (;;) {
        long n = strtol(zku_cas_json(cas), NULL, 10); /* borrowed until the next call on cas */
        char text[32];
        snprintf(text, sizeof text, "%ld", n + 1);
        zku_stat stat;
        zku_error *err = NULL;
        zku_rc rc = zku_cas_commit_json(cas, text, TIMEOUT_MS, NULL, &stat, &err);
        if (rc == ZKU_OK) {
            printf("handle: %ld -> %s at version %d after %u read(s)\n", n, text, stat.version,
                   zku_cas_attempts(cas));
            *value_after = n + 1;
            break;
        }
        if (rc == ZKU_EBADVERSION) { /* someone else wrote first: read again */
            zku_error_free(err);
            zku_error *err2 = NULL;
            rc = zku_cas_reread(cas, TIMEOUT_MS, NULL, &err2);
            if (report("cas_reread", rc, err2) != ZKU_OK) break;
            continue;
        }
        if (rc == ZKU_EUNKNOWN) { /* cut off in flight: find out without risking a double write */
            zku_error_free(err);
            zku_error *err2 = NULL;
            rc = zku_cas_resolve(cas, TIMEOUT_MS, NULL, &stat, &err2);
            if (rc == ZKU_OK) {
                *value_after = n + 1;
                break;
            }
            report("cas_resolve", rc, err2);
            break;
        }
        report("cas_commit", rc, err);
        break;
    }
    zku_cas_free(cas);
    return *value_after > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *hosts = getenv("ZKU_HOSTS");
    if (!hosts) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    long processes = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
    long increments = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
    if (processes < 1 || processes > 64 || increments < 1) {
        fprintf(stderr, "usage: counter [PROCESSES (1-64) [INCREMENTS]]\n");
        return 2;
    }
    char path[64];
    snprintf(path, sizeof path, "/zku-example-counter-%ld", (long)getpid());

    /* Fork before any zku_ call: library handles do not survive fork(). */
    fflush(stdout);
    pid_t pids[64];
    for (long i = 0; i < processes; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[i] == 0) {
            _exit(child(hosts, path, increments));
        }
    }
    int failed = 0;
    for (long i = 0; i < processes; i++) {
        int status = 0;
        if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }

    zku_client *client = connect_client(hosts);
    if (!client) return 1;
    zku_buf *data = NULL;
    zku_stat stat;
    CHECK("get", zku_client_get(client, path, TIMEOUT_MS, NULL, &data, &stat, &err_));
    long total = strtol(zku_buf_str(data), NULL, 10);
    zku_buf_free(data);
    long expected = processes * increments;
    printf("%ld processes x %ld increments: counter %ld (expected %ld), version %d\n", processes, increments, total,
           expected, stat.version);

    long after = 0;
    int handle_failed = increment_with_handle(client, path, &after);
    CHECK("delete", zku_client_delete(client, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    zku_client_free(client);

    if (failed || handle_failed || total != expected || stat.version != expected - 1 || after != expected + 1) {
        fprintf(stderr, "FAILED: %d child(ren) failed, counter %ld, version %d, after %ld\n", failed, total,
                stat.version, after);
        return 1;
    }
    printf("ok: every increment counted exactly once\n");
    return 0;
}
