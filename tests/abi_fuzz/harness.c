/* The C-ABI fuzzer's harness: makes the valid handles, runs the generated
   calls (calls.c, from gen.py) of the functions named on the command line
   and checks that no rejected call wrote to the server.

   Usage: harness --list
          harness PORT SEED CALLS FUNCTION...
   Prints "CALL function(arguments)" before each call (so the parent names
   the call of a crash or hang), "WRITE ..." and exits 3 when the server's
   zxid moved across a rejected call, "UNREJECTED ..." for a call
   that was not rejected although an argument was invalid, and
   "REPEAT function" when it makes a call again to tell its write from one in
   the background, and "DONE function calls rejected unrejected" after each
   function. A call that must be quick and was not prints "SLOW ..." and
   exits 4. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const uint8_t SMALL[4] = {1, 2, 3, 4};
uint8_t OUT_BUF[64];
const uint8_t *BIG;
size_t BIG_LEN = 2 * 1024 * 1024; /* over ZKU_MAX_DATA_LEN and the server's packet limit */
const char *const NAMES[2] = {"read", "write"};
const char *const NAMES_NULL[2] = {"read", NULL};
const char *const NAMES_BAD[2] = {"read", "\xff\xfe"};
int USER_DATA;
const char *HOSTS;

struct zku_acl_list *H_acl_list;
struct zku_buf *H_buf;
struct zku_cancel *H_cancel;
struct zku_cas *H_cas;
struct zku_client *H_client;
struct zku_config *H_config;
struct zku_error *H_error;
struct zku_lock *H_lock;
struct zku_fifo *H_fifo;
struct zku_lock_id_parts *H_lock_id_parts;
struct zku_op *H_op;
struct zku_reader *H_reader;
struct zku_registration *H_registration;
struct zku_members *H_members;
struct zku_strings *H_strings;
struct zku_cas_next *H_cas_next;

static int port;
static int64_t zxid;       /* the server's last zxid, when known */
static int zxid_known;     /* 0 after anything that may have written */
static unsigned long calls, rejected, unrejected;
/* How many times a rejected call must move the zxid to count as a write. */
enum { ATTEMPTS = 3 };

static void die(const char *what, zku_rc rc) {
    printf("SETUP %s failed: %d %s\n", what, rc, zku_strerror(rc));
    exit(2);
}

static void must(const char *what, zku_rc rc) {
    if (rc != 0 && rc != ZKU_ENODEEXISTS) die(what, rc);
}

/* The server's last zxid, from the four-letter word `srvr` ("Zxid: 0x..."). */
static int64_t read_zxid(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("srvr connect", 0);
    if (write(fd, "srvr", 4) != 4) die("srvr write", 0);
    char reply[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof reply - 1 && (n = read(fd, reply + len, sizeof reply - 1 - len)) > 0) len += (size_t)n;
    close(fd);
    reply[len] = 0;
    const char *at = strstr(reply, "Zxid: ");
    if (!at) die("srvr reply without Zxid", 0);
    return (int64_t)strtoll(at + 6, NULL, 16);
}

uint32_t rng_below(struct rng *r, uint32_t n) {
    /* splitmix64 */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint32_t)(z % n);
}

const char *huge_str(void) {
    static char *s;
    if (!s) {
        size_t n = 2 * 1024 * 1024;
        s = malloc(n + 1);
        memset(s, 'a', n);
        s[0] = '/';
        s[n] = 0;
    }
    return s;
}

void call_start(struct call *c, const char *function) {
    c->function = function;
    c->args[0] = 0;
    c->args_len = 0;
    c->bad = 0;
    c->attempt = 0;
    c->timeout_ms = NO_TIMEOUT;
}

void call_arg(struct call *c, const char *name, const char *value, int bad) {
    int n = snprintf(c->args + c->args_len, sizeof c->args - c->args_len, "%s%s=%s", c->args_len ? ", " : "", name,
                     value);
    if (n > 0 && c->args_len + (size_t)n < sizeof c->args) c->args_len += (size_t)n;
    c->bad |= bad;
}

int32_t draw_timeout(struct rng *r, struct call *c, const char *name, int lock_default) {
    static const struct {
        int32_t ms;
        const char *text;
        int bad;
    } shorts[] = {{0, "0", 0}, {1, "1", 0}, {30, "30", 0}, {-2, "-2", 1}, {INT32_MIN, "INT32_MIN", 1}},
      longs[] = {{-1, "-1", 0}, {INT32_MAX, "INT32_MAX", 0}};
    uint32_t k = rng_below(r, 7);
    int32_t ms;
    const char *text;
    if (k >= 5 && c->bad) {
        ms = longs[k - 5].ms, text = longs[k - 5].text;
    } else {
        k %= 5;
        ms = shorts[k].ms, text = shorts[k].text;
        c->bad |= shorts[k].bad && !(lock_default && shorts[k].ms == ZKU_LOCK_DEFAULT_TIMEOUT);
    }
    call_arg(c, name, text, 0);
    c->timeout_ms = ms;
    return ms;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void call_begin(struct call *c) {
    if (!zxid_known) {
        zxid = read_zxid();
        zxid_known = 1;
    }
    printf("CALL %s(%s)\n", c->function, c->args);
    if (c->attempt++ == 0) calls++;
    c->began_ns = now_ns();
}

/* A call that had to be rejected, or was given at most 30 ms, must return
   within this (generous, for a loaded machine): the timeout is a promise. */
#define QUICK_LIMIT_NS (5 * 1000 * 1000 * 1000LL)

static void check_duration(const struct call *c) {
    int quick = c->bad || (c->timeout_ms != NO_TIMEOUT && c->timeout_ms >= 0 && c->timeout_ms <= 30);
    int64_t took = now_ns() - c->began_ns;
    if (quick && took > QUICK_LIMIT_NS) {
        printf("SLOW %s(%s) took %.1f s\n", c->function, c->args, (double)took / 1e9);
        exit(4);
    }
}

/* The codes of a call refused for its arguments, before anything is sent. */
static int is_rejection(zku_rc rc) {
    switch (rc) {
    case ZKU_ENULL: case ZKU_EUTF8: case ZKU_EPATH: case ZKU_EJSON: case ZKU_EPERM: case ZKU_EBUFSIZE:
    case ZKU_EINVAL: case ZKU_ETOOLARGE: case ZKU_EHOSTS: case ZKU_EBADARGUMENTS: case ZKU_EBADCONFIG:
        return 1;
    default:
        return 0;
    }
}

/* Waits until the server's zxid stays put for 200 ms, and takes it as the baseline. */
static void settle(void) {
    int64_t before;
    do {
        before = read_zxid();
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
        zxid = read_zxid();
    } while (zxid != before);
    zxid_known = 1;
}

int call_end(struct call *c, zku_rc rc) {
    check_duration(c);
    if (!is_rejection(rc)) {
        zxid_known = 0;
        if (c->bad) {
            printf("UNREJECTED %s(%s) returned %d (%s)\n", c->function, c->args, rc, zku_strerror(rc));
            unrejected++;
        }
        return 0;
    }
    int64_t now = read_zxid();
    if (now == zxid) {
        rejected++;
        return 0;
    }
    if (c->attempt < ATTEMPTS) {
        printf("REPEAT %s: the zxid moved\n", c->function);
        settle();
        return 1;
    }
    printf("WRITE %s(%s) returned %d (%s) but the server's zxid moved from 0x%" PRIx64 " to 0x%" PRIx64
           " (each of %d times)\n",
           c->function, c->args, rc, zku_strerror(rc), zxid, now, ATTEMPTS);
    exit(3);
}

void call_end_void(struct call *c) {
    check_duration(c);
    zxid_known = 0;
}

void call_freed(struct call *c) {
    (void)c;
    zxid_known = 0;
}

/* The nodes the handles are made on, as they were before calls changed them. */
static void restore_nodes(void) {
    zxid_known = 0;
    must("create /fuzz", zku_client_create(H_client, "/fuzz", NULL, 0, 0, 0, NULL, 5000, NULL, NULL, NULL, NULL));
    zku_rc rc = zku_client_set_json(H_client, "/fuzz/reader", "{\"a\": 1}", -1, 5000, NULL, NULL, NULL);
    if (rc == ZKU_ENONODE)
        rc = zku_client_create_json(H_client, "/fuzz/reader", "{\"a\": 1}", 0, NULL, 5000, NULL, NULL, NULL, NULL);
    must("restore /fuzz/reader", rc);
}

/* Handles: making one may write (a session, a node), so the zxid is re-read. */
struct zku_config *make_config(void) {
    struct zku_config *config;
    must("zku_config_new", zku_config_new(&config, NULL));
    must("zku_config_set_hosts", zku_config_set_hosts(config, HOSTS, NULL));
    must("zku_config_set_connect_timeout_ms", zku_config_set_connect_timeout_ms(config, 5000, NULL));
    return config;
}

struct zku_client *make_client(void) {
    struct zku_client *client;
    struct zku_config *config = make_config();
    zxid_known = 0;
    must("zku_client_new", zku_client_new(config, NULL, &client, NULL));
    zku_config_free(config);
    return client;
}

struct zku_acl_list *make_acl_list(void) {
    struct zku_acl_list *list;
    must("zku_acl_list_new", zku_acl_list_new(&list, NULL));
    must("zku_acl_list_add", zku_acl_list_add(list, ZKU_PERM_ALL, "world", "anyone", NULL));
    return list;
}

struct zku_buf *make_buf(void) {
    restore_nodes();
    struct zku_buf *buf;
    must("zku_client_get", zku_client_get(H_client, "/fuzz/reader", 5000, NULL, &buf, NULL, NULL));
    return buf;
}

struct zku_strings *make_strings(void) {
    restore_nodes();
    struct zku_strings *list;
    must("zku_client_children", zku_client_children(H_client, "/fuzz", 5000, NULL, &list, NULL, NULL));
    return list;
}

struct zku_cancel *make_cancel(void) {
    struct zku_cancel *cancel;
    must("zku_cancel_new", zku_cancel_new(&cancel, NULL));
    return cancel;
}

struct zku_cas *make_cas(void) {
    restore_nodes();
    struct zku_cas *cas;
    zxid_known = 0;
    must("zku_cas_begin", zku_cas_begin(H_client, "/fuzz/cas", ZKU_CAS_CREATE, SMALL, 1, 5000, NULL, &cas, NULL));
    return cas;
}

struct zku_error *make_error(void) {
    struct zku_error *err = NULL;
    char *out;
    if (zku_make_digest(NULL, &out, &err) != ZKU_ENULL || !err) die("zku_make_digest(NULL)", 0);
    return err;
}

struct zku_lock *make_lock(void) {
    struct zku_lock *lock;
    must("zku_lock_new", zku_lock_new(H_client, "fuzzlock", NULL, 0, ZKU_LOCK_DEFAULT_TIMEOUT, &lock, NULL));
    return lock;
}

/* A read-write lock's write side: every zku_fifo call takes it, and
 * zku_fifo_new_read_of accepts it (it refuses the other kinds). */
struct zku_fifo *make_fifo(void) {
    struct zku_fifo *fifo;
    must("zku_fifo_new_write", zku_fifo_new_write(H_client, "fuzzfifo", NULL, ZKU_LOCK_DEFAULT_TIMEOUT, &fifo, NULL));
    return fifo;
}

char *make_string(void) {
    char *s;
    must("zku_make_digest", zku_make_digest("u:p", &s, NULL));
    return s;
}

struct zku_lock_id_parts *make_lock_id_parts(void) {
    char *id;
    struct zku_lock_id_parts *parts;
    must("zku_lock_id", zku_lock_id("node-1", &id, NULL));
    must("zku_parse_lock_id", zku_parse_lock_id(id, &parts, NULL));
    zku_string_free(id);
    return parts;
}

struct zku_reader *make_reader(void) {
    restore_nodes();
    struct zku_reader *reader;
    zxid_known = 0;
    must("zku_reader_new", zku_reader_new(H_client, "/fuzz/reader", NULL, NULL, NULL, 5000, NULL, &reader, NULL));
    return reader;
}

/* A finished operation: waits for a node that does not exist. */
struct zku_op *make_op(void) {
    struct zku_op *op;
    must("zku_wait_absent_start", zku_wait_absent_start(H_client, "/fuzz/absent", 5000, &op, NULL));
    int fd;
    must("zku_op_fd", zku_op_fd(op, &fd, NULL));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1) die("make_op: the wait did not end", 0);
    return op;
}

/* Outside /fuzz: no fuzzed call deletes it, so its keeper does not write
   behind a call's back. */
struct zku_registration *make_registration(void) {
    struct zku_registration *registration;
    zxid_known = 0;
    must("zku_registration_new", zku_registration_new(H_client, "/fuzz-registration", SMALL, 4, 0, 0, 5000, NULL,
                                                      &registration, NULL));
    return registration;
}

struct zku_members *make_members(void) {
    restore_nodes();
    struct zku_members *members;
    must("zku_members_list", zku_members_list(H_client, "/fuzz", 5000, NULL, &members, NULL));
    return members;
}

static void setup(void) {
    uint8_t *big = calloc(1, BIG_LEN);
    BIG = big;
    H_config = make_config();
    H_client = make_client();
    H_acl_list = make_acl_list();
    H_buf = make_buf();
    H_strings = make_strings();
    H_cancel = make_cancel();
    H_cas = make_cas();
    H_error = make_error();
    H_lock = make_lock();
    H_fifo = make_fifo();
    H_lock_id_parts = make_lock_id_parts();
    H_reader = make_reader();
    must("zku_wait_absent_start", zku_wait_absent_start(H_client, "/fuzz/reader", -1, &H_op, NULL));
    H_registration = make_registration();
    H_members = make_members();
    /* The zxid check sees a write (so that "no write" means something). */
    int64_t before = read_zxid();
    restore_nodes();
    if (read_zxid() == before) die("the zxid check: a write did not move the zxid", 0);
}

/* Closes the sessions, which would otherwise expire (a write) during a later batch. */
static void teardown(void) {
    zku_op_free(H_op);
    zku_reader_free(H_reader);
    zku_registration_free(H_registration);
    zku_members_free(H_members);
    zku_lock_free(H_lock);
    zku_fifo_free(H_fifo);
    zku_cas_free(H_cas);
    zku_client_free(H_client);
    zku_config_free(H_config);
    zku_acl_list_free(H_acl_list);
    zku_buf_free(H_buf);
    zku_strings_free(H_strings);
    zku_cancel_free(H_cancel);
    zku_error_free(H_error);
    zku_lock_id_parts_free(H_lock_id_parts);
}

/* Runs the calls of a function taking a zku_cas_next inside the callback of
   a zku_cas_update, the only place its `next` is valid; the callback skips,
   so the update writes nothing. */
struct in_callback {
    const struct fuzz_target *target;
    struct rng *r;
    unsigned long calls;
};

static int32_t run_calls_in_callback(void *user_data, const uint8_t *value, size_t value_len,
                                     const struct zku_stat *stat, struct zku_cas_next *next) {
    (void)value, (void)value_len, (void)stat;
    struct in_callback *in = user_data;
    H_cas_next = next;
    for (unsigned long k = 0; k < in->calls; k++) in->target->run(in->r);
    H_cas_next = NULL;
    return ZKU_CAS_SKIP;
}

static void run_target(const struct fuzz_target *target, struct rng *r, unsigned long calls) {
    if (strcmp(target->name, "zku_cas_next_set") != 0) {
        for (unsigned long k = 0; k < calls; k++) target->run(r);
        return;
    }
    struct in_callback in = {target, r, calls};
    zxid_known = 0;
    must("zku_cas_update",
         zku_cas_update(H_client, "/fuzz/cas", ZKU_CAS_CREATE, SMALL, 1, run_calls_in_callback, &in, 1, 5000, NULL,
                        NULL, NULL, NULL));
    zxid_known = 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < FUZZ_TARGET_COUNT; i++) printf("%s\n", FUZZ_TARGETS[i].name);
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: harness --list | harness PORT SEED CALLS FUNCTION...\n");
        return 2;
    }
    port = atoi(argv[1]);
    uint64_t seed = strtoull(argv[2], NULL, 10);
    unsigned long per_function = strtoul(argv[3], NULL, 10);
    static char hosts[64];
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
    HOSTS = hosts;
    /* A NULL config means defaults and the environment: this server. */
    setenv("ZKU_HOSTS", hosts, 1);
    setup();
    for (int a = 4; a < argc; a++) {
        size_t i = 0;
        while (i < FUZZ_TARGET_COUNT && strcmp(FUZZ_TARGETS[i].name, argv[a]) != 0) i++;
        if (i == FUZZ_TARGET_COUNT) {
            printf("SETUP unknown function %s\n", argv[a]);
            return 2;
        }
        /* Each function's calls depend only on the seed and its index. */
        struct rng r = {seed ^ (0x9e3779b97f4a7c15ULL * (i + 1))};
        unsigned long c0 = calls, r0 = rejected, u0 = unrejected;
        run_target(&FUZZ_TARGETS[i], &r, per_function);
        printf("DONE %s %lu %lu %lu\n", argv[a], calls - c0, rejected - r0, unrejected - u0);
    }
    teardown();
    return 0;
}
