/* Service discovery with registration nodes, against the server in
 * ZKU_HOSTS.
 *
 * Two "instances" register under /zku-example-register-PID/api (ephemeral
 * sequential nodes holding their address); a "client" lists the members
 * with their data. An operator deletes one instance's node: its handle,
 * followed with poll() on zku_registration_fd, creates it again under a new
 * name (the descriptor coalesces changes between two drains: a quick repair
 * may read as PRESENT right away). Freeing a handle deletes its node. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkutil.h"

static int check(const char *what, zku_rc rc, zku_error *err) {
    if (rc != ZKU_OK) {
        fprintf(stderr, "[register] %s: %s (%d): %s\n", what, zku_strerror(rc), rc, err ? zku_error_message(err) : "");
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

static const char *state_name(zku_registration_state s) {
    switch (s) {
    case ZKU_REGISTRATION_ABSENT: return "ABSENT";
    case ZKU_REGISTRATION_PRESENT: return "PRESENT";
    case ZKU_REGISTRATION_CLOSED: return "CLOSED";
    default: return "?";
    }
}

/* Prints the members under `parent`; returns their number, -1 on error. */
static int print_members(zku_client *client, const char *parent) {
    zku_members *members = NULL;
    zku_error *err = NULL;
    if (check("members_list", zku_members_list(client, parent, 10000, NULL, &members, &err), err) != ZKU_OK) return -1;
    size_t n = zku_members_len(members);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const uint8_t *data = zku_members_data(members, i, &len);
        printf("  member %s -> %.*s\n", zku_members_name(members, i), (int)len, (const char *)data);
    }
    zku_members_free(members);
    return (int)n;
}

/* Waits up to timeout_ms for the descriptor, then reads the state; -1 when
 * nothing happened. */
static zku_registration_state wait_state(zku_registration *reg, int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, timeout_ms) != 1) return -1;
    zku_registration_state s = zku_registration_fd_drain(reg);
    printf("poll: registration %s\n", state_name(s));
    return s;
}

int main(void) {
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    char root[64], parent[96], prefix[112];
    snprintf(root, sizeof root, "/zku-example-register-%ld", (long)getpid());
    snprintf(parent, sizeof parent, "%s/api", root);
    snprintf(prefix, sizeof prefix, "%s/member-", parent);
    zku_client *client = NULL, *operator_session = NULL;
    CHECK("client_new", zku_client_new(NULL, NULL, &client, &err_));
    CHECK("client_new(operator)", zku_client_new(NULL, NULL, &operator_session, &err_));

    zku_registration *a = NULL, *b = NULL;
    const char *addr_a = "10.0.0.1:8080", *addr_b = "10.0.0.2:8080";
    CHECK("register a", zku_registration_new(client, prefix, (const uint8_t *)addr_a, strlen(addr_a),
                                             ZKU_REGISTRATION_SEQUENTIAL, 0, 10000, NULL, &a, &err_));
    CHECK("register b", zku_registration_new(client, prefix, (const uint8_t *)addr_b, strlen(addr_b),
                                             ZKU_REGISTRATION_SEQUENTIAL, 0, 10000, NULL, &b, &err_));
    printf("members of %s:\n", parent);
    if (print_members(operator_session, parent) != 2) return 1;

    int fd = -1;
    CHECK("registration_fd", zku_registration_fd(a, &fd, &err_));
    if (wait_state(a, fd, 1000) != ZKU_REGISTRATION_PRESENT) return 1; /* readable once at first */

    /* The operator deletes a's node: a creates it again, with a new name. */
    char *first = NULL, *second = NULL;
    CHECK("path", zku_registration_path(a, &first, &err_));
    CHECK("operator delete", zku_client_delete(operator_session, first, -1, 10000, NULL, &err_));
    zku_registration_state s;
    do {
        s = wait_state(a, fd, 10000);
        if (s < 0) {
            fprintf(stderr, "no state change within 10 s\n");
            return 1;
        }
    } while (s != ZKU_REGISTRATION_PRESENT);
    CHECK("path", zku_registration_path(a, &second, &err_));
    printf("re-created: %s -> %s\n", first, second);
    if (strcmp(first, second) == 0) return 1;
    zku_string_free(first);
    zku_string_free(second);

    /* New data reaches the node, and every later re-creation. */
    const char *moved = "10.0.0.1:9090";
    CHECK("set_data", zku_registration_set_data(a, (const uint8_t *)moved, strlen(moved), 10000, NULL, &err_));
    printf("members after a moved:\n");
    if (print_members(operator_session, parent) != 2) return 1;

    /* Freeing a handle deletes its node. */
    zku_registration_free(b);
    printf("members after b left:\n");
    if (print_members(operator_session, parent) != 1) return 1;
    zku_registration_free(a);
    if (print_members(operator_session, parent) != 0) return 1;

    CHECK("delete parent", zku_client_delete(operator_session, parent, -1, 10000, NULL, &err_));
    CHECK("delete root", zku_client_delete(operator_session, root, -1, 10000, NULL, &err_));
    zku_client_free(operator_session);
    zku_client_free(client);
    printf("ok\n");
    return 0;
}
