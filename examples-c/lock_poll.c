/* Following a lock's state with poll(), for event-loop programs that must
 * not take callbacks on library threads, against the server in ZKU_HOSTS.
 *
 * The lock's descriptor (zku_lock_fd) becomes readable on every state
 * change; zku_lock_fd_drain empties it and returns the current state. The
 * program acquires the lock, then plays an operator who deletes the lock
 * node from another session: the loop sees HELD, then LOST (with the
 * reason), stops its protected work, and acknowledges the loss. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zkutil.h"

static const char *who = "lock_poll";

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

static const char *state_name(zku_lock_state s) {
    switch (s) {
    case ZKU_LOCK_UNLOCKED: return "UNLOCKED";
    case ZKU_LOCK_HELD: return "HELD";
    case ZKU_LOCK_SUSPENDED: return "SUSPENDED";
    case ZKU_LOCK_LOST: return "LOST";
    default: return "?";
    }
}

/* One turn of the event loop: wait up to timeout_ms for the descriptor,
 * then read the state. Returns the state, or -1 when nothing happened. */
static zku_lock_state wait_state(zku_lock *lock, int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int n = poll(&p, 1, timeout_ms);
    if (n != 1) return -1;
    zku_lock_state s = zku_lock_fd_drain(lock);
    printf("poll: lock state %s\n", state_name(s));
    return s;
}

int main(void) {
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    char lock_dir[64];
    snprintf(lock_dir, sizeof lock_dir, "/zku-example-lock-poll-%ld/", (long)getpid());
    zku_config *config = NULL;
    zku_client *client = NULL, *operator_session = NULL;
    zku_lock *lock = NULL;
    CHECK("config_new", zku_config_new(&config, &err_));
    CHECK("set lock_dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    CHECK("client_new", zku_client_new(config, NULL, &client, &err_));
    CHECK("client_new(operator)", zku_client_new(config, NULL, &operator_session, &err_));
    zku_config_free(config);
    CHECK("lock_new", zku_lock_new(client, "job", NULL, 0, ZKU_LOCK_DEFAULT_TIMEOUT, &lock, &err_));
    /* Watch the node for interference from the moment it is acquired. The
     * default (ZKU_LOCK_DEFAULT_WATCH_DELAY_MS later) spares locks released
     * within it a read; a change before then is still caught by that read. */
    CHECK("set_watch_delay", zku_lock_set_watch_delay(lock, 0, &err_));

    int fd = -1;
    CHECK("lock_fd", zku_lock_fd(lock, &fd, &err_));
    /* Readable once at first: read the initial state. */
    if (wait_state(lock, fd, 1000) != ZKU_LOCK_UNLOCKED) return 1;

    int64_t token = 0;
    CHECK("acquire", zku_lock_acquire(lock, 10000, NULL, &token, &err_));
    printf("acquired, fencing token %" PRId64 "\n", token);
    if (wait_state(lock, fd, 5000) != ZKU_LOCK_HELD) return 1;
    if (wait_state(lock, fd, 0) != -1) return 1; /* drained: quiet until the next change */

    /* The operator deletes the lock node. */
    CHECK("operator delete", zku_client_delete(operator_session, zku_lock_path(lock), -1, 10000, NULL, &err_));
    zku_lock_state s;
    do {
        s = wait_state(lock, fd, 10000);
        if (s < 0) {
            fprintf(stderr, "no state change within 10 s\n");
            return 1;
        }
    } while (s != ZKU_LOCK_LOST);
    char *reason = zku_lock_lost_reason(lock);
    printf("lost: %s; protected work stops here\n", reason ? reason : "?");
    zku_string_free(reason);

    /* Releasing a lost lock deletes nothing and says so. */
    zku_error *err = NULL;
    zku_rc rc = zku_lock_release(lock, 10000, NULL, &err);
    printf("release after the loss -> %s (%d)\n", zku_strerror(rc), rc);
    zku_error_free(err);
    if (rc != ZKU_ELOCKLOST) return 1;
    if (wait_state(lock, fd, 5000) != ZKU_LOCK_UNLOCKED) return 1;

    zku_lock_free(lock);
    char dir[64];
    snprintf(dir, sizeof dir, "/zku-example-lock-poll-%ld", (long)getpid());
    CHECK("delete lock dir", zku_client_delete(operator_session, dir, -1, 10000, NULL, &err_));
    zku_client_free(operator_session);
    zku_client_free(client);
    printf("ok\n");
    return 0;
}
