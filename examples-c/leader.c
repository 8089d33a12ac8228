/* Leader election (Apache Curator LeaderLatch's layout) between two
 * processes, against the server in ZKU_HOSTS.
 *
 * The process forks before it touches the library; each side makes its
 * own client and a participant (zku_fifo_new_leader). Each round it stands
 * by until elected (zku_fifo_acquire), works as leader while poll() on the
 * handle's descriptor shows no state change (a leader must stop at once
 * when its state leaves ZKU_LOCK_HELD), then resigns (zku_fifo_release) so
 * the standby takes over. The parent checks that the leaders' tokens, in
 * the order they led, strictly increase and that both led every round.
 *
 * Usage: leader [ROUNDS]   (default 3 per process) */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkutil.h"

static int check(const char *who, const char *what, zku_rc rc, zku_error *err) {
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
        if (check(who, what, rc_, err_) != ZKU_OK) return 1;             \
    } while (0)

/* Works as leader for about `ms` milliseconds, in slices, stopping early if
 * the state changes (SUSPENDED or LOST: another may be leader soon). */
static int lead(zku_fifo *p, int fd, int ms) {
    for (int waited = 0; waited < ms; waited += 10) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 10) > 0 && zku_fifo_fd_drain(p) != ZKU_LOCK_HELD) return 1;
    }
    return 0;
}

static int participate(const char *who, const char *lock_dir, const char *log, int rounds) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    zku_fifo *p = NULL;
    int fd = -1;
    CHECK("config_new", zku_config_new(&config, &err_)); /* hosts from ZKU_HOSTS */
    CHECK("set lock_dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    CHECK("client_new", zku_client_new(config, NULL, &client, &err_));
    zku_config_free(config);
    CHECK("new_leader", zku_fifo_new_leader(client, "scheduler", who, ZKU_LOCK_DEFAULT_TIMEOUT, &p, &err_));
    CHECK("fd", zku_fifo_fd(p, &fd, &err_));
    zku_fifo_fd_drain(p);

    for (int i = 0; i < rounds; i++) {
        int64_t token = 0;
        CHECK("await leadership", zku_fifo_acquire(p, 30000, NULL, &token, &err_));
        zku_strings *ids = NULL, *names = NULL;
        CHECK("participants", zku_fifo_contenders(p, 10000, NULL, &names, &ids, &err_));
        printf("[%s] leader of %s, token %" PRId64 ", %zu participant(s)\n", who, zku_fifo_path(p), token,
               zku_strings_len(ids));
        fflush(stdout);
        zku_strings_free(ids);
        zku_strings_free(names);
        FILE *f = fopen(log, "a");
        if (!f) return 1;
        fprintf(f, "%" PRId64 " %s\n", token, who);
        fclose(f);
        if (lead(p, fd, 50) != 0) fprintf(stderr, "[%s] leadership in doubt: stopped early\n", who);
        CHECK("resign", zku_fifo_release(p, 10000, NULL, &err_));
    }
    zku_fifo_free(p);
    zku_client_free(client);
    return 0;
}

int main(int argc, char **argv) {
    const char *who = "parent";
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds <= 0) rounds = 3;
    char lock_dir[64], log[64];
    snprintf(lock_dir, sizeof lock_dir, "/zku-example-leader-%ld/", (long)getpid());
    snprintf(log, sizeof log, "/tmp/zku-example-leader-%ld.log", (long)getpid());
    FILE *f = fopen(log, "w");
    if (!f) return 1;
    fclose(f);

    fflush(stdout);
    pid_t child = fork(); /* before any library call */
    if (child < 0) return 1;
    if (child == 0) _exit(participate("standby", lock_dir, log, rounds));
    int failed = participate("parent", lock_dir, log, rounds);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;

    f = fopen(log, "r");
    int64_t prev = 0, token = 0;
    int terms = 0;
    char leader[16];
    while (f && fscanf(f, "%" SCNd64 " %15s", &token, leader) == 2) {
        if (token <= prev) failed = 1;
        prev = token;
        terms++;
    }
    if (f) fclose(f);
    printf("%d terms (expected %d), tokens %s\n", terms, 2 * rounds, failed ? "NOT increasing" : "strictly increasing");
    if (terms != 2 * rounds) failed = 1;
    remove(log);

    zku_client *client = NULL;
    CHECK("client_new", zku_client_new(NULL, NULL, &client, &err_));
    char path[96];
    snprintf(path, sizeof path, "%sscheduler", lock_dir);
    CHECK("delete election path", zku_client_delete(client, path, -1, 10000, NULL, &err_));
    snprintf(path, sizeof path, "%.*s", (int)strlen(lock_dir) - 1, lock_dir);
    CHECK("delete lock dir", zku_client_delete(client, path, -1, 10000, NULL, &err_));
    zku_client_free(client);
    return failed;
}
