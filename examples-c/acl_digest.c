/* Digest-ACL and permission helpers: no server needed.
 * Prints each helper's result and checks it against the k3zkutil values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkutil.h"

static int failures = 0;

static void expect_str(const char *what, const char *got, const char *want) {
    printf("%-28s %s\n", what, got ? got : "(null)");
    if (!got || strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL %s: got %s, want %s\n", what, got ? got : "(null)", want);
        failures++;
    }
}

/* The call is made first, then its error object read: C leaves the order
 * of function arguments unspecified. */
#define EXPECT_RC(what, call, want)          \
    do {                                     \
        zku_rc rc_ = (call);                 \
        expect_rc((what), rc_, (want), err); \
        err = NULL;                          \
    } while (0)

static void expect_rc(const char *what, zku_rc rc, zku_rc want, zku_error *err) {
    printf("%-28s rc=%d (%s)%s%s\n", what, rc, zku_strerror(rc), err ? ": " : "", err ? zku_error_message(err) : "");
    if (rc != want) {
        fprintf(stderr, "FAIL %s: rc %d, want %d\n", what, rc, want);
        failures++;
    }
    zku_error_free(err);
}

int main(void) {
    char *s = NULL;
    zku_error *err = NULL;

    printf("zkutil %s (header %s)\n", zku_version(), ZKU_VERSION);

    EXPECT_RC("make_digest", zku_make_digest("xp:123", &s, &err), ZKU_OK);
    expect_str("  digest of xp:123", s, "LNcZO17uqqJ4GuYoSclIsGjYniQ=");
    zku_string_free(s);

    EXPECT_RC("make_acl_entry", zku_make_acl_entry("xp", "123", "cdrwa", &s, &err), ZKU_OK);
    expect_str("  entry", s, "digest:xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=:cdrwa");
    zku_string_free(s);

    /* An unknown permission letter has its own code, and nothing is returned. */
    EXPECT_RC("make_acl_entry(rwx)", zku_make_acl_entry("xp", "123", "rwx", &s, &err), ZKU_EPERM);
    if (s != NULL) failures++;

    zku_strings *names = NULL;
    EXPECT_RC("letters_to_names(CdR)", zku_perm_letters_to_names("CdR", true, &names, &err), ZKU_OK);
    for (size_t i = 0; i < zku_strings_len(names); i++) printf("  %s\n", zku_strings_get(names, i));
    expect_str("  second name", zku_strings_get(names, 1), "delete");
    zku_strings_free(names);

    const char *long_names[] = {"create", "READ", "Admin"};
    EXPECT_RC("names_to_letters", zku_perm_names_to_letters(long_names, 3, false, &s, &err), ZKU_OK);
    expect_str("  letters", s, "CRA");
    zku_string_free(s);

    int32_t mask = 0;
    EXPECT_RC("letters_to_mask(rw)", zku_perm_letters_to_mask("rw", &mask, &err), ZKU_OK);
    if (mask != (ZKU_PERM_READ | ZKU_PERM_WRITE)) failures++;
    EXPECT_RC("mask_to_letters(31)", zku_perm_mask_to_letters(ZKU_PERM_ALL, true, &s, &err), ZKU_OK);
    expect_str("  letters", s, "cdrwa");
    zku_string_free(s);
    EXPECT_RC("mask_to_letters(64)", zku_perm_mask_to_letters(64, true, &s, &err), ZKU_EPERM);

    /* Lock identifiers. */
    EXPECT_RC("lock_id", zku_lock_id("web", &s, &err), ZKU_OK);
    zku_lock_id_parts *parts = NULL;
    EXPECT_RC("parse_lock_id", zku_parse_lock_id(s, &parts, &err), ZKU_OK);
    printf("  node_id=%s ip=%s pid=%lld uuid=%s\n", parts->node_id, parts->ip, (long long)parts->process_id,
           parts->uuid);
    expect_str("  node_id", parts->node_id, "web");
    if (!parts->has_process_id) failures++;
    zku_lock_id_parts_free(parts);
    zku_string_free(s);

    const char *held[] = {"a", "c"};
    bool backward = false;
    EXPECT_RC("is_backward_locking(b)", zku_is_backward_locking(held, 2, "b", &backward, &err), ZKU_OK);
    if (!backward) failures++;
    EXPECT_RC("is_backward_locking(a)", zku_is_backward_locking(held, 2, "a", &backward, &err), ZKU_EALREADYLOCKED);

    /* NULL arguments get their own code instead of a crash. */
    EXPECT_RC("make_digest(NULL)", zku_make_digest(NULL, &s, &err), ZKU_ENULL);

    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("acl_digest: all checks passed\n");
    return 0;
}
