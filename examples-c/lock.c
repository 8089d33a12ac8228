/* Two processes contend for one distributed lock, against the server in
 * ZKU_HOSTS, and print the fencing token of every acquisition.
 *
 * The process forks before it touches the library (handles do not survive
 * fork()); each side makes its own client and lock handle. Inside the lock
 * each one does a deliberately slow read-modify-write of a counter file and
 * appends its token to a shared log. At the end the parent checks that no
 * increment was lost (the lock excluded the other process) and that the
 * tokens in the log, which is in hold order, strictly increase.
 *
 * Usage: lock [ROUNDS]   (default 10 per process) */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
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

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The protected work: a slow, unprotected-by-anything-else increment. */
static int bump_counter(const char *path) {
    FILE *f = fopen(path, "r+");
    if (!f) return -1;
    long n = 0;
    if (fscanf(f, "%ld", &n) != 1) n = 0;
    pause_ms(2); /* widen the window another holder would need */
    rewind(f);
    fprintf(f, "%ld\n", n + 1);
    fclose(f);
    return 0;
}

static int contend(const char *who, const char *lock_dir, const char *counter, const char *log, int rounds) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    zku_lock *lock = NULL;
    CHECK("config_new", zku_config_new(&config, &err_)); /* hosts from ZKU_HOSTS */
    CHECK("set lock_dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    CHECK("client_new", zku_client_new(config, NULL, &client, &err_));
    zku_config_free(config);
    /* NULL identifier: a unique one (node_id-ip-pid-uuid); ephemeral node. */
    CHECK("lock_new", zku_lock_new(client, "printer", NULL, 0, ZKU_LOCK_DEFAULT_TIMEOUT, &lock, &err_));
    printf("[%s] identifier %s, lock node %s\n", who, zku_lock_identifier(lock), zku_lock_path(lock));

    for (int i = 0; i < rounds; i++) {
        int64_t token = 0;
        CHECK("acquire", zku_lock_acquire(lock, 30000, NULL, &token, &err_));
        printf("[%s] holds the lock, fencing token %" PRId64 "\n", who, token);
        fflush(stdout);
        if (bump_counter(counter) != 0) return 1;
        FILE *f = fopen(log, "a");
        if (!f) return 1;
        fprintf(f, "%" PRId64 " %s\n", token, who);
        fclose(f);
        CHECK("release", zku_lock_release(lock, 10000, NULL, &err_));
    }
    zku_lock_free(lock);
    zku_client_free(client);
    return 0;
}

int main(int argc, char **argv) {
    const char *who = "parent";
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    if (rounds <= 0) rounds = 10;
    char lock_dir[64], counter[64], log[64];
    snprintf(lock_dir, sizeof lock_dir, "/zku-example-lock-%ld/", (long)getpid());
    snprintf(counter, sizeof counter, "/tmp/zku-example-lock-%ld.count", (long)getpid());
    snprintf(log, sizeof log, "/tmp/zku-example-lock-%ld.log", (long)getpid());
    FILE *f = fopen(counter, "w");
    if (!f) return 1;
    fputs("0\n", f);
    fclose(f);
    f = fopen(log, "w");
    if (!f) return 1;
    fclose(f);

    fflush(stdout);
    pid_t child = fork(); /* before any library call */
    if (child < 0) return 1;
    if (child == 0) _exit(contend("child", lock_dir, counter, log, rounds));
    int failed = contend("parent", lock_dir, counter, log, rounds);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;

    /* Check: no lost increment, tokens increasing in hold order. */
    long count = -1;
    f = fopen(counter, "r");
    if (!f || fscanf(f, "%ld", &count) != 1) failed = 1;
    if (f) fclose(f);
    f = fopen(log, "r");
    int64_t prev = 0, token = 0;
    int holds = 0, switches = 0;
    char holder[16], last[16] = "";
    while (f && fscanf(f, "%" SCNd64 " %15s", &token, holder) == 2) {
        if (token <= prev) {
            fprintf(stderr, "token %" PRId64 " after %" PRId64 ": not increasing\n", token, prev);
            failed = 1;
        }
        if (last[0] && strcmp(last, holder) != 0) switches++;
        snprintf(last, sizeof last, "%s", holder);
        prev = token;
        holds++;
    }
    if (f) fclose(f);
    printf("%d holds, counter %ld (expected %d), %d hand-overs between the processes, tokens %s\n", holds, count,
           2 * rounds, switches, failed ? "NOT increasing" : "strictly increasing");
    if (count != 2 * rounds || holds != 2 * rounds) failed = 1;
    remove(counter);
    remove(log);

    /* Remove the example's lock directory. */
    zku_client *client = NULL;
    CHECK("client_new", zku_client_new(NULL, NULL, &client, &err_));
    char dir[64];
    snprintf(dir, sizeof dir, "%.*s", (int)strlen(lock_dir) - 1, lock_dir);
    CHECK("delete lock dir", zku_client_delete(client, dir, -1, 10000, NULL, &err_));
    zku_client_free(client);
    return failed;
}
