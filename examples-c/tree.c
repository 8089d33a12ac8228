/* Tree export and import, against the server in ZKU_HOSTS: builds a small
 * subtree (JSON, text, binary and empty values; world, ip and digest ACLs),
 * exports it as a JSON document, imports the document under another root,
 * exports that and checks both documents are equal. Also shows a malformed
 * document being refused with the JSON path of the mistake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkutil.h"

#define TIMEOUT_MS 30000

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

/* Deletes a subtree, children first (best effort). */
static void delete_tree(zku_client *c, const char *path) {
    zku_strings *children = NULL;
    if (zku_client_children(c, path, TIMEOUT_MS, NULL, &children, NULL, NULL) == ZKU_OK) {
        for (size_t i = 0; i < zku_strings_len(children); i++) {
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, zku_strings_get(children, i));
            delete_tree(c, child);
        }
        zku_strings_free(children);
    }
    zku_client_delete(c, path, ZKU_ANY_VERSION, TIMEOUT_MS, NULL, NULL);
}

int main(void) {
    if (!getenv("ZKU_HOSTS")) {
        fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    char base[64], src[96], dst[96], path[160];
    snprintf(base, sizeof base, "/zku-example-tree-%ld", (long)getpid());
    snprintf(src, sizeof src, "%s/src", base);
    snprintf(dst, sizeof dst, "%s/dst", base);

    /* A client with digest credentials (config from ZKU_HOSTS). */
    zku_config *config = NULL;
    CHECK("config_new", zku_config_new(&config, &err_));
    CHECK("set_auth", zku_config_set_auth(config, "digest", "xp", "123", &err_));
    zku_client *c = NULL;
    CHECK("client_new", zku_client_new(config, NULL, &c, &err_));

    /* The source tree: a k3zkutil-style document (values are JSON, ACLs are
     * {user: perms} with passwords from the users map) ... */
    const char *users = "{\"xp\": \"123\"}";
    const char *doc =
        "{\"__val__\": {\"service\": \"demo\"},"
        " \"config\": {\"__val__\": {\"workers\": 4, \"name\": \"é\"}, \"__acl__\": {\"xp\": \"cdrwa\"},"
        "              \"limits\": {\"__val__\": [1, 2, 3]}},"
        " \"empty\": {\"__text__\": \"\"}}";
    zku_import_stats stats;
    CHECK("import src", zku_import_hierarchy(c, base, "{}", NULL, 0, TIMEOUT_MS, NULL, NULL, &err_));
    CHECK("import src", zku_import_hierarchy(c, src, doc, users, 0, TIMEOUT_MS, NULL, &stats, &err_));
    printf("imported %s: %llu nodes, %llu created\n", src, (unsigned long long)stats.nodes,
           (unsigned long long)stats.created);

    /* ... plus what k3zkutil's format cannot hold: binary data, plain text,
     * an ip ACL. */
    zku_acl_list *acl = NULL;
    CHECK("acl_list_new", zku_acl_list_new(&acl, &err_));
    CHECK("acl_add", zku_acl_list_add(acl, ZKU_PERM_ALL, "ip", "127.0.0.1", &err_));
    CHECK("acl_add", zku_acl_list_add(acl, ZKU_PERM_READ, "world", "anyone", &err_));
    const uint8_t binary[] = {0x00, 0xff, 0x10, 0x80};
    snprintf(path, sizeof path, "%s/binary", src);
    CHECK("create binary", zku_client_create(c, path, binary, sizeof binary, 0, 0, acl, TIMEOUT_MS, NULL, NULL, NULL, &err_));
    zku_acl_list_free(acl);
    snprintf(path, sizeof path, "%s/config/motd", src);
    const char *motd = "hello, not JSON";
    CHECK("create text", zku_client_create(c, path, (const uint8_t *)motd, strlen(motd), 0, 0, NULL, TIMEOUT_MS, NULL, NULL,
                                           NULL, &err_));

    /* Export, import elsewhere, export again: the same document. */
    char *first = NULL, *second = NULL, *pretty = NULL;
    CHECK("export src", zku_export_hierarchy(c, src, NULL, 0, TIMEOUT_MS, NULL, &first, &err_));
    CHECK("import dst", zku_import_hierarchy(c, dst, first, NULL, 0, TIMEOUT_MS, NULL, &stats, &err_));
    CHECK("export dst", zku_export_hierarchy(c, dst, NULL, 0, TIMEOUT_MS, NULL, &second, &err_));
    int same = strcmp(first, second) == 0;
    printf("copied %llu nodes to %s; documents %s (%zu bytes)\n", (unsigned long long)stats.created, dst,
           same ? "equal" : "DIFFERENT", strlen(first));

    /* With the users map, digest entries of known users read {user: perms};
     * ACLs equal to the parent's may be left out (import inherits them). */
    CHECK("export pretty", zku_export_hierarchy(c, src, users, ZKU_EXPORT_PRETTY | ZKU_EXPORT_OMIT_INHERITED_ACL,
                                                TIMEOUT_MS, NULL, &pretty, &err_));
    printf("%s\n", pretty);

    /* A malformed document is refused before anything is written, and the
     * message names the JSON path of the mistake. */
    zku_error *err = NULL;
    zku_rc rc = zku_import_hierarchy(c, dst, "{\"config\": {\"__acl__\": {\"xp\": \"rwx\"}}}", users, 0, TIMEOUT_MS,
                                     NULL,
                                     NULL, &err);
    printf("bad permission -> %s (%d): %s\n", zku_strerror(rc), rc, zku_error_message(err));
    zku_error_free(err);

    zku_string_free(first);
    zku_string_free(second);
    zku_string_free(pretty);
    delete_tree(c, base);
    zku_client_free(c);
    zku_config_free(config);
    return same && rc == ZKU_EPERM ? 0 : 1;
}
