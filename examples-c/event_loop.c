/* A single-threaded daemon's event loop over zkutil, against the server in
 * ZKU_HOSTS: one poll() drives
 *   - the client's session state (zku_client_fd),
 *   - a lock: a non-blocking acquire (zku_lock_acquire_start, completion
 *     through zku_op_fd) and the lock's state (zku_lock_fd),
 *   - a cached reader's changes (zku_reader_fd),
 *   - two waits: zku_get_next_start and zku_wait_absent_start.
 * Another session plays the rest of the world: it holds the lock at first,
 * changes the configuration, lets the lock go and deletes a job node, each
 * step triggered by what the loop saw. The program exits 0 only when every
 * part really happened, in order. Nothing here blocks the loop for long:
 * the world's steps and the final release are short calls. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkutil.h"

static const char *who = "event_loop";

static int check(const char *what, zku_rc rc, zku_error *err) {
    if (rc != ZKU_OK) {
        fprintf(stderr, "[%s] %s: %s (%d): %s\n", who, what, zku_strerror(rc), rc, err ? zku_error_message(err) : "");
    }
    zku_error_free(err);
    return rc;
}

#define CHECK(what, call)                                                \
    do {                                                                 \
        zku_error *err_ = NULL;                                          \
        zku_rc rc_ = (call);                                             \
        if (check(what, rc_, err_) != ZKU_OK) return 1;                  \
    } while (0)

#define EXPECT(cond)                                                     \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "[%s] failed: %s (line %d)\n", who, #cond, __LINE__); \
            return 1;                                                    \
        }                                                                \
    } while (0)

enum { FD_CLIENT, FD_LOCK, FD_READER, FD_ACQUIRE, FD_NEXT, FD_ABSENT, FD_COUNT };

/* What the loop saw: the program succeeds only if all of it happened. */
struct seen {
    int connected, closed;
    int lock_held, lock_released;
    int64_t token;
    int reader_fresh, reader_changed;
    int next_done, absent_done;
};

int main(void) {
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    char dir[64], lock_dir[80], conf[96], job[96];
    snprintf(dir, sizeof dir, "/zku-example-event-loop-%ld", (long)getpid());
    snprintf(lock_dir, sizeof lock_dir, "%s/", dir);
    snprintf(conf, sizeof conf, "%s/conf", dir);
    snprintf(job, sizeof job, "%s/job", dir);

    zku_config *config = NULL;
    zku_client *client = NULL, *world = NULL;
    zku_lock *lock = NULL, *theirs = NULL;
    zku_reader *reader = NULL;
    zku_op *acquire = NULL, *next = NULL, *absent = NULL;
    CHECK("config_new", zku_config_new(&config, &err_));
    CHECK("set lock_dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    CHECK("client_new", zku_client_new(config, NULL, &client, &err_));
    CHECK("client_new(world)", zku_client_new(config, NULL, &world, &err_));
    zku_config_free(config);

    /* The world: a configuration node, a job node, and the lock held. */
    CHECK("create conf", zku_client_create_json(world, conf, "{\"v\": 1}", ZKU_CREATE_PARENTS, NULL, 5000, NULL,
                                                 NULL, NULL, &err_));
    CHECK("create job", zku_client_create(world, job, NULL, 0, 0, 0, NULL, 5000, NULL, NULL, NULL, &err_));
    CHECK("lock_new(world)", zku_lock_new(world, "lock", NULL, 0, ZKU_LOCK_DEFAULT_TIMEOUT, &theirs, &err_));
    CHECK("world acquires", zku_lock_acquire(theirs, 5000, NULL, NULL, &err_));

    /* The daemon's handles and operations. */
    CHECK("lock_new", zku_lock_new(client, "lock", NULL, 0, ZKU_LOCK_DEFAULT_TIMEOUT, &lock, &err_));
    CHECK("reader_new", zku_reader_new(client, conf, NULL, NULL, NULL, 5000, NULL, &reader, &err_));
    CHECK("acquire_start", zku_lock_acquire_start(lock, 30000, &acquire, &err_));
    CHECK("get_next_start", zku_get_next_start(client, conf, 0, 0, 30000, &next, &err_));
    CHECK("wait_absent_start", zku_wait_absent_start(client, job, 30000, &absent, &err_));
    {
        /* Held by the world: the acquire cannot be done yet. */
        zku_error *err = NULL;
        zku_rc rc = zku_op_result(acquire, NULL, NULL, NULL, &err);
        zku_error_free(err);
        EXPECT(rc == ZKU_EINPROGRESS);
    }

    struct pollfd fds[FD_COUNT];
    memset(fds, 0, sizeof fds);
    for (int i = 0; i < FD_COUNT; i++) fds[i].events = POLLIN;
    CHECK("client_fd", zku_client_fd(client, &fds[FD_CLIENT].fd, &err_));
    CHECK("lock_fd", zku_lock_fd(lock, &fds[FD_LOCK].fd, &err_));
    CHECK("reader_fd", zku_reader_fd(reader, &fds[FD_READER].fd, &err_));
    CHECK("op_fd(acquire)", zku_op_fd(acquire, &fds[FD_ACQUIRE].fd, &err_));
    CHECK("op_fd(get_next)", zku_op_fd(next, &fds[FD_NEXT].fd, &err_));
    CHECK("op_fd(wait_absent)", zku_op_fd(absent, &fds[FD_ABSENT].fd, &err_));

    struct seen seen = {0};
    int world_changed_conf = 0, closing = 0;
    for (int turn = 0; !seen.closed; turn++) {
        EXPECT(turn < 100);
        int n = poll(fds, FD_COUNT, 10000);
        EXPECT(n > 0); /* something happens within 10 s at every step */

        if (fds[FD_CLIENT].revents & POLLIN) {
            zku_state s = zku_client_fd_drain(client);
            printf("client: state %d\n", s);
            if (s == ZKU_STATE_CONNECTED) seen.connected = 1;
            if (s == ZKU_STATE_CLOSED) seen.closed = 1;
        }
        if (fds[FD_READER].revents & POLLIN) {
            int s = zku_reader_fd_drain(reader);
            char *old_json = NULL, *new_json = NULL;
            zku_error *err = NULL;
            /* The change since the last one taken, without waiting. */
            zku_rc rc = zku_reader_watch(reader, 0, NULL, &old_json, &new_json, NULL, &err);
            zku_error_free(err);
            if (rc == ZKU_OK) {
                printf("reader: %s -> %s\n", old_json, new_json);
                if (strstr(new_json, "2")) seen.reader_changed = 1;
            } else {
                printf("reader: state %d\n", s);
            }
            zku_string_free(old_json);
            zku_string_free(new_json);
            if (s == ZKU_READER_STATE_FRESH) seen.reader_fresh = 1;
        }
        if (fds[FD_LOCK].revents & POLLIN) {
            zku_lock_state s = zku_lock_fd_drain(lock);
            printf("lock: state %d\n", s);
            if (s == ZKU_LOCK_HELD) seen.lock_held = 1;
            if (s == ZKU_LOCK_UNLOCKED && seen.lock_held) seen.lock_released = 1;
        }
        if (fds[FD_NEXT].revents & POLLIN) {
            zku_buf *data = NULL;
            zku_stat stat;
            CHECK("get_next result", zku_op_result(next, NULL, &data, &stat, &err_));
            printf("get_next: version %d, %.*s\n", stat.version, (int)zku_buf_len(data), (const char *)zku_buf_data(data));
            EXPECT(stat.version == 1 && memchr(zku_buf_data(data), '2', zku_buf_len(data)));
            zku_buf_free(data);
            seen.next_done = 1;
            zku_op_free(next);
            next = NULL;
            fds[FD_NEXT].fd = -1; /* poll ignores it from now on */
            /* The world lets the lock go: our acquire completes. */
            CHECK("world releases", zku_lock_release(theirs, 5000, NULL, &err_));
        }
        if (fds[FD_ACQUIRE].revents & POLLIN) {
            CHECK("acquire result", zku_op_result(acquire, &seen.token, NULL, NULL, &err_));
            printf("acquired, fencing token %" PRId64 "\n", seen.token);
            zku_op_free(acquire);
            acquire = NULL;
            fds[FD_ACQUIRE].fd = -1;
            /* Holding the lock, the daemon lets the world finish the job. */
            CHECK("world deletes the job", zku_client_delete(world, job, -1, 5000, NULL, &err_));
        }
        if (fds[FD_ABSENT].revents & POLLIN) {
            CHECK("wait_absent result", zku_op_result(absent, NULL, NULL, NULL, &err_));
            printf("job node gone\n");
            seen.absent_done = 1;
            zku_op_free(absent);
            absent = NULL;
            fds[FD_ABSENT].fd = -1;
            EXPECT(seen.token > 0);
            CHECK("release", zku_lock_release(lock, 5000, NULL, &err_));
        }
        /* Once connected and reading: the world changes the configuration. */
        if (seen.connected && seen.reader_fresh && !world_changed_conf) {
            CHECK("world sets conf", zku_client_set_json(world, conf, "{\"v\": 2}", -1, 5000, NULL, NULL, &err_));
            world_changed_conf = 1;
        }
        /* Everything done: close the session, the client fd says CLOSED. */
        if (seen.lock_released && seen.reader_changed && !closing) {
            CHECK("client_close", zku_client_close(client, 5000, NULL, &err_));
            closing = 1;
        }
    }

    EXPECT(seen.connected && seen.closed);
    EXPECT(seen.lock_held && seen.lock_released && seen.token > 0);
    EXPECT(seen.reader_fresh && seen.reader_changed);
    EXPECT(seen.next_done && seen.absent_done);
    zku_reader_free(reader);
    zku_lock_free(lock);
    zku_lock_free(theirs);
    CHECK("delete conf", zku_client_delete(world, conf, -1, 5000, NULL, &err_));
    CHECK("delete dir", zku_client_delete(world, dir, -1, 5000, NULL, &err_));
    zku_client_free(world);
    zku_client_free(client);
    printf("ok\n");
    return 0;
}
