/* A FIFO mutex (Apache Curator InterProcessMutex's layout) shared by three
 * processes, against the server in ZKU_HOSTS.
 *
 * The process forks twice before it touches the library (handles do not
 * survive fork()); each process makes its own client and zku_fifo handle
 * and takes the lock ROUNDS times. While it holds the lock it prints the
 * queue (zku_fifo_contenders: the holder first, then the waiters in
 * arrival order) and appends its fencing token to a shared log. At the end
 * the parent checks that the tokens, in hold order, strictly increase and
 * that every process held the lock ROUNDS times.
 *
 * Usage: fifo_lock [ROUNDS]   (default 5 per process) */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkutil.h"

#define PROCESSES 3

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

static int contend(const char *who, const char *lock_dir, const char *log, int rounds) {
    zku_config *config = NULL;
    zku_client *client = NULL;
    zku_fifo *fifo = NULL;
    CHECK("config_new", zku_config_new(&config, &err_)); /* hosts from ZKU_HOSTS */
    CHECK("set lock_dir", zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir, &err_));
    CHECK("client_new", zku_client_new(config, NULL, &client, &err_));
    zku_config_free(config);
    /* The identifier is our node's data: what the others see in the queue. */
    CHECK("fifo_new", zku_fifo_new(client, "printer", who, ZKU_LOCK_DEFAULT_TIMEOUT, &fifo, &err_));

    for (int i = 0; i < rounds; i++) {
        int64_t token = 0;
        CHECK("acquire", zku_fifo_acquire(fifo, 30000, NULL, &token, &err_));
        zku_strings *ids = NULL, *names = NULL;
        CHECK("contenders", zku_fifo_contenders(fifo, 10000, NULL, &names, &ids, &err_));
        printf("[%s] holds %s, token %" PRId64 ", queue:", who, zku_fifo_path(fifo), token);
        for (size_t k = 0; k < zku_strings_len(ids); k++) printf(" %s", zku_strings_get(ids, k));
        printf("\n");
        fflush(stdout);
        int first_is_us = zku_strings_len(ids) > 0 && strcmp(zku_strings_get(ids, 0), who) == 0;
        zku_strings_free(ids);
        zku_strings_free(names);
        if (!first_is_us) {
            fprintf(stderr, "[%s] the queue does not show us as the holder\n", who);
            return 1;
        }
        FILE *f = fopen(log, "a");
        if (!f) return 1;
        fprintf(f, "%" PRId64 " %s\n", token, who);
        fclose(f);
        CHECK("release", zku_fifo_release(fifo, 10000, NULL, &err_));
    }
    zku_fifo_free(fifo);
    zku_client_free(client);
    return 0;
}

int main(int argc, char **argv) {
    const char *who = "parent";
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds <= 0) rounds = 5;
    char lock_dir[64], log[64];
    snprintf(lock_dir, sizeof lock_dir, "/zku-example-fifo-%ld/", (long)getpid());
    snprintf(log, sizeof log, "/tmp/zku-example-fifo-%ld.log", (long)getpid());
    FILE *f = fopen(log, "w");
    if (!f) return 1;
    fclose(f);

    fflush(stdout);
    pid_t children[PROCESSES - 1];
    for (int i = 0; i < PROCESSES - 1; i++) {
        children[i] = fork(); /* before any library call */
        if (children[i] < 0) return 1;
        if (children[i] == 0) _exit(contend(i == 0 ? "child-1" : "child-2", lock_dir, log, rounds));
    }
    int failed = contend("parent", lock_dir, log, rounds);
    for (int i = 0; i < PROCESSES - 1; i++) {
        int status = 0;
        waitpid(children[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    }

    /* Check: tokens increasing in hold order, every round held. */
    f = fopen(log, "r");
    int64_t prev = 0, token = 0;
    int holds = 0;
    char holder[16];
    while (f && fscanf(f, "%" SCNd64 " %15s", &token, holder) == 2) {
        if (token <= prev) {
            fprintf(stderr, "token %" PRId64 " after %" PRId64 ": not increasing\n", token, prev);
            failed = 1;
        }
        prev = token;
        holds++;
    }
    if (f) fclose(f);
    printf("%d holds (expected %d), tokens %s\n", holds, PROCESSES * rounds, failed ? "NOT increasing" : "strictly increasing");
    if (holds != PROCESSES * rounds) failed = 1;
    remove(log);

    /* Remove the example's lock directory (the lock path, then its parent). */
    zku_client *client = NULL;
    CHECK("client_new", zku_client_new(NULL, NULL, &client, &err_));
    char path[96];
    snprintf(path, sizeof path, "%sprinter", lock_dir);
    CHECK("delete lock path", zku_client_delete(client, path, -1, 10000, NULL, &err_));
    snprintf(path, sizeof path, "%.*s", (int)strlen(lock_dir) - 1, lock_dir);
    CHECK("delete lock dir", zku_client_delete(client, path, -1, 10000, NULL, &err_));
    zku_client_free(client);
    return failed;
}
