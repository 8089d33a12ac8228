/* Node operations with digest auth and ACLs, against the server in
 * ZKU_HOSTS. Creates a digest-protected node, shows that a client without
 * the credentials gets ZKU_ENOAUTH, and cleans up. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkutil.h"

#define TIMEOUT_MS 10000

static int check(const char *what, zku_rc rc, zku_error *err) {
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
        if (check(what, rc_, err_) != ZKU_OK) return 1;                  \
    } while (0)

static void on_state(void *user_data, zku_state old_state, zku_state new_state) {
    printf("[%s] session state %d -> %d\n", (const char *)user_data, old_state, new_state);
}

int main(void) {
    const char *hosts = getenv("ZKU_HOSTS");
    if (!hosts) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    char root[64];
    snprintf(root, sizeof root, "/zku-example-nodes-%ld", (long)getpid());

    /* An authenticated client whose nodes get a digest ACL by default. */
    zku_config *config = NULL;
    CHECK("config_new", zku_config_new(&config, &err_));
    CHECK("set_hosts", zku_config_set_hosts(config, hosts, &err_));
    CHECK("set_auth", zku_config_set_auth(config, "digest", "alice", "secret", &err_));
    CHECK("add_acl", zku_config_add_acl(config, "alice", "secret", "cdrwa", &err_));
    zku_client *alice = NULL;
    CHECK("client_new(alice)", zku_client_new(config, NULL, &alice, &err_));
    zku_config_free(config);
    printf("alice: session 0x%" PRIx64 ", timeout %" PRId64 " ms, state %d\n",
           (uint64_t)zku_client_session_id(alice), zku_client_session_timeout_ms(alice), zku_client_state(alice));
    CHECK("state_callback", zku_client_set_state_callback(alice, on_state, "alice", NULL, &err_));

    /* Create a tree (parents on demand), read it back. */
    char path[128];
    snprintf(path, sizeof path, "%s/config/app", root);
    const char *value = "{\"workers\": 4}";
    char *created = NULL;
    zku_stat stat;
    CHECK("create_json", zku_client_create_json(alice, path, value, ZKU_CREATE_PARENTS, NULL, TIMEOUT_MS, NULL, &created,
                                                &stat, &err_));
    printf("created %s (czxid %" PRId64 ", version %d)\n", created, stat.czxid, stat.version);
    zku_string_free(created);

    char *json = NULL;
    CHECK("get_json", zku_client_get_json(alice, path, TIMEOUT_MS, NULL, &json, &stat, &err_));
    printf("get_json %s -> %s (version %d)\n", path, json, stat.version);
    zku_string_free(json);

    /* Versioned write: the first succeeds, the stale one gets ZKU_EBADVERSION. */
    const char *v2 = "{\"workers\": 8}";
    CHECK("set_json", zku_client_set_json(alice, path, v2, stat.version, TIMEOUT_MS, NULL, &stat, &err_));
    zku_error *err = NULL;
    zku_rc rc = zku_client_set_json(alice, path, v2, 0, TIMEOUT_MS, NULL, NULL, &err);
    printf("stale set -> %s (%d): %s\n", zku_strerror(rc), rc, zku_error_message(err));
    zku_error_free(err);
    if (rc != ZKU_EBADVERSION) return 1;

    /* Binary data and an ephemeral sequential node. */
    uint8_t bytes[4] = {0, 1, 2, 255};
    char seq_prefix[128];
    snprintf(seq_prefix, sizeof seq_prefix, "%s/job-", root);
    CHECK("create seq", zku_client_create(alice, seq_prefix, bytes, sizeof bytes,
                                          ZKU_CREATE_EPHEMERAL | ZKU_CREATE_SEQUENTIAL, 0, NULL, TIMEOUT_MS,
                                          NULL,
                                          &created, &stat, &err_));
    printf("ephemeral sequential %s, owner 0x%" PRIx64 "\n", created, (uint64_t)stat.ephemeral_owner);
    zku_buf *data = NULL;
    CHECK("get", zku_client_get(alice, created, TIMEOUT_MS, NULL, &data, &stat, &err_));
    if (zku_buf_len(data) != 4 || memcmp(zku_buf_data(data), bytes, 4) != 0) return 1;
    zku_buf_free(data);
    /* The same read into a buffer of our own, allocating nothing. Data that
     * does not fit comes back in a zku_buf when we pass one (else
     * ZKU_EBUFSIZE with the length needed). */
    uint8_t small[2], room[16];
    size_t len = 0;
    CHECK("get_into", zku_client_get_into(alice, created, TIMEOUT_MS, NULL, room, sizeof room, &len, &data, &stat, &err_));
    if (len != 4 || data != NULL || memcmp(room, bytes, 4) != 0) return 1;
    CHECK("get_into, too long", zku_client_get_into(alice, created, TIMEOUT_MS, NULL, small, sizeof small, &len, &data,
                                                    NULL, &err_));
    if (len != 4 || data == NULL || memcmp(zku_buf_data(data), bytes, 4) != 0) return 1;
    zku_buf_free(data);
    rc = zku_client_get_into(alice, created, TIMEOUT_MS, NULL, small, sizeof small, &len, NULL, NULL, NULL);
    if (rc != ZKU_EBUFSIZE || len != 4) return 1;
    char job[128];
    snprintf(job, sizeof job, "%s", created);
    zku_string_free(created);

    zku_strings *children = NULL;
    CHECK("children", zku_client_children(alice, root, TIMEOUT_MS, NULL, &children, &stat, &err_));
    for (size_t i = 0; i < zku_strings_len(children); i++) printf("child %s\n", zku_strings_get(children, i));
    zku_strings_free(children);

    zku_acl_list *acl = NULL;
    CHECK("get_acl", zku_client_get_acl(alice, path, TIMEOUT_MS, NULL, &acl, NULL, &err_));
    for (size_t i = 0; i < zku_acl_list_len(acl); i++) {
        int32_t perms;
        const char *scheme, *id;
        CHECK("acl_get", zku_acl_list_get(acl, i, &perms, &scheme, &id, &err_));
        char *letters = NULL;
        CHECK("mask_to_letters", zku_perm_mask_to_letters(perms, true, &letters, &err_));
        printf("acl %s:%s:%s\n", scheme, id, letters);
        zku_string_free(letters);
    }
    zku_acl_list_free(acl);

    /* A client without alice's credentials is refused. */
    zku_config *anon_config = NULL;
    CHECK("config_new", zku_config_new(&anon_config, &err_));
    CHECK("set_hosts", zku_config_set_hosts(anon_config, hosts, &err_));
    zku_client *anon = NULL;
    CHECK("client_new(anon)", zku_client_new(anon_config, NULL, &anon, &err_));
    zku_config_free(anon_config);
    err = NULL;
    rc = zku_client_get(anon, path, TIMEOUT_MS, NULL, &data, NULL, &err);
    printf("anonymous get -> %s (%d): %s\n", zku_strerror(rc), rc, zku_error_message(err));
    zku_error_free(err);
    if (rc != ZKU_ENOAUTH || data != NULL) return 1;
    /* ...until it adds them. */
    CHECK("add_auth", zku_client_add_auth(anon, "digest", (const uint8_t *)"alice:secret", 12, TIMEOUT_MS, NULL, &err_));
    CHECK("get after auth", zku_client_get(anon, path, TIMEOUT_MS, NULL, &data, NULL, &err_));
    zku_buf_free(data);
    zku_client_free(anon);

    /* A cancel (from another thread, on ctx.Done() in Go, or in a signal
       handler) ends a blocking call; one issued before the call sends
       nothing: the root is still there to be deleted below. */
    zku_cancel *cancel = NULL;
    CHECK("cancel_new", zku_cancel_new(&cancel, &err_));
    zku_cancel_cancel(cancel);
    rc = zku_client_delete(alice, root, ZKU_ANY_VERSION, TIMEOUT_MS, cancel, NULL);
    zku_cancel_free(cancel);
    if (rc != ZKU_ECANCELLED) return 1;

    /* Clean up, deepest first. */
    CHECK("delete app", zku_client_delete(alice, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    snprintf(path, sizeof path, "%s/config", root);
    CHECK("delete config", zku_client_delete(alice, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    CHECK("delete job", zku_client_delete(alice, job, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    CHECK("delete root", zku_client_delete(alice, root, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, &err_));
    /* Closes the session at once and ends calls other threads may have
       blocked on it; the free that follows is quick. */
    CHECK("close", zku_client_close(alice, TIMEOUT_MS, NULL, &err_));
    zku_client_free(alice);
    printf("nodes: all checks passed\n");
    return 0;
}
