/* A cached reader following a JSON config node, against ZKU_HOSTS.
 *
 *   config_watch            self-contained demo: creates a config node,
 *                           changes it a few times, deletes it, and checks
 *                           that every change was seen; exits 0 if so
 *   config_watch PATH [N]   follows an existing node holding a JSON object
 *                           and prints its next N changes (default: forever)
 *
 * Events arrive on a library thread through the callback; the main thread
 * uses the pull side (zku_reader_watch) and reads members by JSON Pointer. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkutil.h"

#define TIMEOUT_MS 10000

static int report(const char *what, zku_rc rc, zku_error *err) {
    if (rc != ZKU_OK) {
        fprintf(stderr, "%s: %s (%d): %s\n", what, zku_strerror(rc), rc, err ? zku_error_message(err) : "");
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

static const char *event_name(int32_t event) {
    switch (event) {
    case ZKU_READER_EVENT_CHANGED: return "changed";
    case ZKU_READER_EVENT_STALE: return "stale (connection lost)";
    case ZKU_READER_EVENT_FRESH: return "fresh (reconnected)";
    case ZKU_READER_EVENT_DELETED: return "deleted";
    case ZKU_READER_EVENT_INVALID: return "invalid (not a JSON object)";
    case ZKU_READER_EVENT_EXPIRED: return "session expired";
    case ZKU_READER_EVENT_CLOSED: return "closed";
    default: return "?";
    }
}

struct seen {
    atomic_int changed;
    atomic_int deleted;
    atomic_int freed;
};

/* Runs on the reader's own thread, one event at a time. */
static void on_event(void *user_data, int32_t event, const char *path, const char *old_json, const char *new_json,
                     const zku_stat *stat) {
    struct seen *seen = user_data;
    if (event == ZKU_READER_EVENT_CHANGED) {
        atomic_fetch_add(&seen->changed, 1);
        printf("[callback] %s %s: %s -> %s (version %d)\n", path, event_name(event), old_json, new_json,
               stat->version);
    } else {
        if (event == ZKU_READER_EVENT_DELETED) atomic_fetch_add(&seen->deleted, 1);
        printf("[callback] %s %s\n", path, event_name(event));
    }
    fflush(stdout);
}

static void free_seen(void *user_data) {
    struct seen *seen = user_data;
    atomic_fetch_add(&seen->freed, 1);
}

static zku_client *connect_client(const char *hosts) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    zku_error *err = NULL;
    zku_rc rc = zku_config_new(&config, &err);
    if (rc == ZKU_OK) rc = zku_config_set_hosts(config, hosts, &err);
    /* A follower lives for long: after a session expiry it goes on with a
     * new session (stale, then changed/fresh) instead of ending. */
    if (rc == ZKU_OK) rc = zku_config_set_session_renewal(config, true, &err);
    if (rc == ZKU_OK) rc = zku_client_new(config, NULL, &client, &err);
    zku_config_free(config);
    report("connect", rc, err);
    return client;
}

/* Prints one member by JSON Pointer. */
static void show(zku_reader *reader, const char *pointer) {
    char *json = NULL;
    zku_error *err = NULL;
    zku_rc rc = zku_reader_get_pointer(reader, pointer, &json, &err);
    if (rc == ZKU_OK) {
        printf("  %s = %s\n", pointer, json);
        zku_string_free(json);
    } else {
        printf("  %s: %s\n", pointer, zku_strerror(rc));
        zku_error_free(err);
    }
}

/* Follows PATH and prints its changes. */
static int follow(zku_client *client, const char *path, long count) {
    struct seen seen = {0};
    zku_reader *reader = NULL;
    CHECK("reader_new", zku_reader_new(client, path, on_event, &seen, free_seen, TIMEOUT_MS, NULL, &reader, &err_));
    char *json = NULL;
    CHECK("reader_get", zku_reader_get(reader, &json, NULL, &err_));
    printf("%s = %s\n", path, json);
    zku_string_free(json);
    for (long i = 0; count < 0 || i < count; i++) {
        char *old_json = NULL, *new_json = NULL;
        zku_error *err = NULL;
        zku_rc rc = zku_reader_watch(reader, -1, NULL, &old_json, &new_json, NULL, &err);
        if (rc == ZKU_OK) {
            printf("[watch] %s -> %s\n", old_json, new_json);
        } else {
            printf("[watch] %s: %s\n", zku_strerror(rc), zku_error_message(err));
        }
        zku_string_free(old_json);
        zku_string_free(new_json);
        zku_error_free(err);
        if (rc == ZKU_ECLOSED || rc == ZKU_ESESSIONEXPIRED) break; /* final */
    }
    zku_reader_free(reader);
    return 0;
}

/* The self-contained demo. */
static int demo(zku_client *client) {
    char path[64];
    snprintf(path, sizeof path, "/zku-example-config-%ld", (long)getpid());
    CHECK("create", zku_client_create_json(client, path, "{\"workers\": 4, \"db\": {\"host\": \"db1\"}}", 0, NULL,
                                           TIMEOUT_MS, NULL, NULL, NULL, &err_));

    struct seen seen = {0};
    zku_reader *reader = NULL;
    CHECK("reader_new", zku_reader_new(client, path, on_event, &seen, free_seen, TIMEOUT_MS, NULL, &reader, &err_));
    show(reader, "/workers");
    show(reader, "/db/host");
    show(reader, "/db/port");

    const char *versions[] = {
        "{\"workers\": 8, \"db\": {\"host\": \"db1\"}}",
        "{\"workers\": 8, \"db\": {\"host\": \"db2\", \"port\": 5432}}",
        "{\"workers\": 16, \"db\": {\"host\": \"db2\", \"port\": 5432}}",
    };
    int watched = 0;
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        CHECK("set", zku_client_set_json(client, path, versions[i], ZKU_ANY_VERSION, TIMEOUT_MS, NULL, NULL, &err_));
        char *old_json = NULL, *new_json = NULL;
        zku_stat stat;
        CHECK("reader_watch", zku_reader_watch(reader, TIMEOUT_MS, NULL, &old_json, &new_json, &stat, &err_));
        printf("[watch] version %d: %s -> %s\n", stat.version, old_json, new_json);
        watched += strcmp(new_json, versions[i]) == 0;
        zku_string_free(old_json);
        zku_string_free(new_json);
        show(reader, "/workers");
        show(reader, "/db/port");
    }

    /* Not an object: reported, and the last good value stays readable. */
    CHECK("set", zku_client_set_json(client, path, "[1, 2]", ZKU_ANY_VERSION, TIMEOUT_MS, NULL, NULL, &err_));
    zku_error *err = NULL;
    zku_rc rc = zku_reader_watch(reader, TIMEOUT_MS, NULL, NULL, NULL, NULL, &err);
    printf("[watch] after writing an array: %s\n", zku_strerror(rc));
    zku_error_free(err);
    int invalid_ok = rc == ZKU_ENOTOBJECT && zku_reader_state(reader) == ZKU_READER_STATE_INVALID;
    show(reader, "/workers");

    CHECK("delete", zku_client_delete(client, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    err = NULL;
    rc = zku_reader_watch(reader, TIMEOUT_MS, NULL, NULL, NULL, NULL, &err);
    printf("[watch] after delete: %s\n", zku_strerror(rc));
    zku_error_free(err);
    int deleted_ok = rc == ZKU_ENONODE && zku_reader_state(reader) == ZKU_READER_STATE_DELETED;

    /* Freeing the reader waits for a callback in progress and runs free_seen. */
    zku_reader_free(reader);
    int changed = atomic_load(&seen.changed);
    printf("callback saw %d changes, %d deletion(s); watch saw %d of 3 versions; user_data freed %d time(s)\n",
           changed, atomic_load(&seen.deleted), watched, atomic_load(&seen.freed));
    if (changed != 3 || atomic_load(&seen.deleted) != 1 || watched != 3 || !invalid_ok || !deleted_ok ||
        atomic_load(&seen.freed) != 1) {
        fprintf(stderr, "FAILED\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *hosts = getenv("ZKU_HOSTS");
    if (!hosts) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    zku_client *client = connect_client(hosts);
    if (!client) return 1;
    int rc = argc > 1 ? follow(client, argv[1], argc > 2 ? strtol(argv[2], NULL, 10) : -1) : demo(client);
    zku_client_free(client);
    return rc;
}
