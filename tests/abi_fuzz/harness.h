/* The C-ABI fuzzer's harness (harness.c) as seen by the generated calls. */
#ifndef ZKU_ABI_FUZZ_HARNESS_H
#define ZKU_ABI_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "zkutil.h"

struct rng {
    uint64_t state;
};
uint32_t rng_below(struct rng *r, uint32_t n);

/* One call being made: its function, arguments (for the log) and whether one
   of them is invalid for every function (then it must be rejected). */
struct call {
    const char *function;
    char args[1024];
    size_t args_len;
    int bad;
    int attempt;
    int32_t timeout_ms; /* as drawn; NO_TIMEOUT for a call without one */
    int64_t began_ns;
};
#define NO_TIMEOUT INT32_MIN
void call_start(struct call *c, const char *function);
void call_arg(struct call *c, const char *name, const char *value, int bad);
/* Blocking calls: a long timeout (-1, INT32_MAX) only when another argument
   is bad, so a valid call never waits long; INT32_MIN is bad, and -2 too
   unless `lock_default` (a lock's calls take ZKU_LOCK_DEFAULT_TIMEOUT). */
int32_t draw_timeout(struct rng *r, struct call *c, const char *name, int lock_default);
void call_begin(struct call *c);
/* Returns 1 when the call is to be made again: the zxid moved across a
   rejected call, and a repeat tells the call's write from a session closed
   or expired in the background at that moment. */
int call_end(struct call *c, zku_rc rc);
void call_end_void(struct call *c);
/* After the harness freed a fresh handle: that may write (a session's close). */
void call_freed(struct call *c);

/* Argument values. */
#define BAD_UTF8 ((const char *)"/\xff\xfe")
#define PAIR_PTR(p, n) (p)
#define PAIR_LEN(p, n) (n)
extern const uint8_t SMALL[4];
extern uint8_t OUT_BUF[64];
extern const uint8_t *BIG;
extern size_t BIG_LEN;
extern const char *const NAMES[2];
extern const char *const NAMES_NULL[2];
extern const char *const NAMES_BAD[2];
extern int USER_DATA;
extern const char *HOSTS;
const char *huge_str(void);
char *make_string(void);

/* Shared valid handles and fresh ones for calls that end a handle. */
extern struct zku_acl_list *H_acl_list;
extern struct zku_buf *H_buf;
extern struct zku_cancel *H_cancel;
extern struct zku_cas *H_cas;
extern struct zku_client *H_client;
extern struct zku_config *H_config;
extern struct zku_error *H_error;
extern struct zku_lock *H_lock;
extern struct zku_fifo *H_fifo;
extern struct zku_lock_id_parts *H_lock_id_parts;
extern struct zku_op *H_op; /* still running (waits for /fuzz/reader to go) */
extern struct zku_reader *H_reader;
extern struct zku_registration *H_registration;
extern struct zku_members *H_members;
extern struct zku_strings *H_strings;
extern struct zku_cas_next *H_cas_next; /* set while inside run_in_cas_callback's callback */
struct zku_acl_list *make_acl_list(void);
struct zku_buf *make_buf(void);
struct zku_cancel *make_cancel(void);
struct zku_cas *make_cas(void);
struct zku_client *make_client(void);
struct zku_config *make_config(void);
struct zku_error *make_error(void);
struct zku_lock *make_lock(void);
struct zku_fifo *make_fifo(void);
struct zku_lock_id_parts *make_lock_id_parts(void);
struct zku_op *make_op(void); /* already finished */
struct zku_reader *make_reader(void);
struct zku_registration *make_registration(void);
struct zku_members *make_members(void);
struct zku_strings *make_strings(void);

struct fuzz_target {
    const char *name;
    void (*run)(struct rng *r);
};
extern const struct fuzz_target FUZZ_TARGETS[];
extern const size_t FUZZ_TARGET_COUNT;

#endif
