/* The zkutil demo (scripts/demo.sh runs it against a ZooKeeper it starts).
 *
 * Three workers, each with its own session as separate daemons would have,
 * take turns on one distributed lock. Holding it, each bumps a shared
 * counter with compare-and-swap and records itself in a "last writer" node
 * with a write guarded by the lock (it fails if the lock was lost). The
 * fencing token of every turn is printed: it grows with every acquisition.
 * Meanwhile the main thread follows a JSON config node with a cached
 * reader, changes the config twice, waits for the counter's next version
 * and for a worker's "busy" node to vanish, and finally exports the tree.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zkutil.h"

#define TIMEOUT_MS 10000
#define WORKERS 3
#define TURNS 3

static const char *hosts;
static char root[96];

static void die(const char *what, zku_rc rc, zku_error *err) {
    fprintf(stderr, "demo: %s: %s (%d): %s\n", what, zku_strerror(rc), rc, err ? zku_error_message(err) : "");
    zku_error_free(err);
    exit(1);
}

#define OK(what, call)                          \
    do {                                        \
        zku_error *err_ = NULL;                 \
        zku_rc rc_ = (call);                    \
        if (rc_ != ZKU_OK) die(what, rc_, err_); \
    } while (0)

static zku_client *connect_client(const char *lock_dir) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    OK("config", zku_config_new(&config, &err_));
    OK("hosts", zku_config_set_hosts(config, hosts, &err_));
    if (lock_dir) OK("lock dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    OK("connect", zku_client_new(config, NULL, &client, &err_));
    zku_config_free(config);
    return client;
}

/* CAS callback: the counter node holds a JSON number; write it plus one. */
static int32_t increment(void *user_data, const uint8_t *value, size_t len, const zku_stat *stat, zku_cas_next *next) {
    (void)user_data;
    (void)stat;
    char text[32] = {0};
    memcpy(text, value, len < sizeof text - 1 ? len : sizeof text - 1);
    char out[32];
    int n = snprintf(out, sizeof out, "%lld", atoll(text) + 1);
    zku_error *err = NULL;
    if (zku_cas_next_set(next, (const uint8_t *)out, (size_t)n, &err) != ZKU_OK) {
        zku_error_free(err);
        return -1; /* abort the loop */
    }
    return ZKU_CAS_WRITE;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    char lock_dir[128], counter[128], last[128], busy[128], me[32];
    snprintf(lock_dir, sizeof lock_dir, "%s/locks/", root);
    snprintf(counter, sizeof counter, "%s/counter", root);
    snprintf(last, sizeof last, "%s/last-writer", root);
    snprintf(busy, sizeof busy, "%s/busy-%d", root, id);
    snprintf(me, sizeof me, "\"worker-%d\"", id);

    zku_client *client = connect_client(lock_dir);
    /* An ephemeral node that lives as long as this worker's session. */
    OK("busy node", zku_client_create(client, busy, NULL, 0, ZKU_CREATE_EPHEMERAL, 0, NULL, TIMEOUT_MS, NULL, NULL, NULL,
                                      &err_));
    zku_lock *lock = NULL;
    OK("lock", zku_lock_new(client, "job", NULL, 0, TIMEOUT_MS, &lock, &err_));
    for (int turn = 0; turn < TURNS; turn++) {
        int64_t token = 0;
        OK("acquire", zku_lock_acquire(lock, ZKU_LOCK_DEFAULT_TIMEOUT, NULL, &token, &err_));
        zku_stat stat;
        uint32_t attempts = 0;
        OK("cas", zku_cas_update(client, counter, 0, NULL, 0, increment, NULL, 0, TIMEOUT_MS, NULL, &stat, &attempts, &err_));
        /* Only lands if this handle still holds the lock (one multi op). */
        OK("guarded set", zku_lock_guarded_set(lock, last, (const uint8_t *)me, strlen(me), ZKU_ANY_VERSION,
                                               TIMEOUT_MS, NULL, NULL, &err_));
        printf("worker %d: holds the lock, fencing token %" PRId64 ", counter -> version %d (%u attempt%s)\n", id,
               token, stat.version, attempts, attempts == 1 ? "" : "s");
        OK("release", zku_lock_release(lock, TIMEOUT_MS, NULL, &err_));
        struct timespec pause = {0, 1000000}; /* let the others in */
        nanosleep(&pause, NULL);
    }
    zku_lock_free(lock);
    zku_client_free(client); /* closes the session: busy-N vanishes now */
    return NULL;
}

static void on_config(void *user_data, int32_t event, const char *path, const char *old_json, const char *new_json,
                      const zku_stat *stat) {
    (void)user_data;
    const char *names[] = {"", "CHANGED", "STALE", "FRESH", "DELETED", "INVALID", "EXPIRED", "CLOSED"};
    printf("reader: %s %s (version %d)\n         old %s\n         new %s\n", event >= 1 && event <= 7 ? names[event] : "?",
           path, stat ? stat->version : -1, old_json ? old_json : "-", new_json ? new_json : "-");
}

static void delete_tree(zku_client *client, const char *path) {
    zku_strings *children = NULL;
    zku_error *err = NULL;
    if (zku_client_children(client, path, TIMEOUT_MS, NULL, &children, NULL, &err) == ZKU_OK) {
        for (size_t i = 0; i < zku_strings_len(children); i++) {
            char child[256];
            snprintf(child, sizeof child, "%s/%s", path, zku_strings_get(children, i));
            delete_tree(client, child);
        }
    }
    zku_error_free(err);
    zku_strings_free(children);
    zku_client_delete(client, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, NULL);
}

int main(void) {
    hosts = getenv("ZKU_HOSTS");
    if (!hosts) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    snprintf(root, sizeof root, "/zkutil-demo-%ld", (long)getpid());
    printf("zkutil %s demo against %s, under %s\n\n", zku_version(), hosts, root);

    zku_client *client = connect_client(NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/config", root);
    OK("config node", zku_client_create_json(client, path, "{\"workers\": 3, \"jobs\": {\"num\": 10}}",
                                             ZKU_CREATE_PARENTS, NULL, TIMEOUT_MS, NULL, NULL, NULL, &err_));
    char counter[128];
    snprintf(counter, sizeof counter, "%s/counter", root);
    OK("counter", zku_client_create(client, counter, (const uint8_t *)"0", 1, 0, 0, NULL, TIMEOUT_MS, NULL, NULL, NULL,
                                    &err_));

    char last[128];
    snprintf(last, sizeof last, "%s/last-writer", root);
    OK("last-writer", zku_client_create(client, last, (const uint8_t *)"null", 4, 0, 0, NULL, TIMEOUT_MS, NULL, NULL, NULL,
                                        &err_));

    zku_reader *reader = NULL;
    OK("reader", zku_reader_new(client, path, on_config, NULL, NULL, TIMEOUT_MS, NULL, &reader, &err_));
    char *num = NULL;
    OK("pointer", zku_reader_get_pointer(reader, "/jobs/num", &num, &err_));
    printf("reader: /jobs/num is %s\n\n", num);
    zku_string_free(num);

    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)(i + 1));

    /* Wait for the counter's next version: a worker's first increment. */
    zku_buf *value = NULL;
    zku_stat stat;
    OK("get_next", zku_get_next(client, counter, 0, 0, TIMEOUT_MS, NULL, &value, &stat, &err_));
    printf("main: counter moved past version 0: %s (version %d)\n", zku_buf_str(value), stat.version);
    zku_buf_free(value);

    OK("config change", zku_client_set_json(client, path, "{\"workers\": 3, \"jobs\": {\"num\": 20}}",
                                            ZKU_ANY_VERSION, TIMEOUT_MS, NULL, NULL, &err_));
    char *old_json = NULL, *new_json = NULL;
    OK("reader watch", zku_reader_watch(reader, TIMEOUT_MS, NULL, &old_json, &new_json, NULL, &err_));
    printf("main: watch saw the config go from %s to %s\n", old_json, new_json);
    zku_string_free(old_json);
    zku_string_free(new_json);

    /* busy-1 is ephemeral: it vanishes when worker 1 frees its client. */
    char busy[128];
    snprintf(busy, sizeof busy, "%s/busy-1", root);
    OK("wait_absent", zku_wait_absent(client, busy, 60000, NULL, &err_));
    printf("main: worker 1 is done (its busy node is gone)\n");

    for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);

    zku_buf *final = NULL;
    OK("final counter", zku_client_get(client, counter, TIMEOUT_MS, NULL, &final, &stat, &err_));
    printf("\nmain: counter = %s after %d locked increments\n", zku_buf_str(final), WORKERS * TURNS);
    int good = atoi(zku_buf_str(final)) == WORKERS * TURNS;
    zku_buf_free(final);

    zku_reader_free(reader);
    delete_tree(client, root);
    zku_client_free(client);
    printf("demo %s\n", good ? "finished" : "FAILED: lost increments");
    return good ? 0 : 1;
}
