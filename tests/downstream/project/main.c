/* A downstream program built against an installed zkutil. */
#include <stdio.h>
#include <string.h>

#include <zkutil.h>

int main(void) {
    char *digest = NULL;
    zku_error *err = NULL;
    if (strcmp(zku_version(), ZKU_VERSION) != 0) {
        fprintf(stderr, "header %s but library %s\n", ZKU_VERSION, zku_version());
        return 1;
    }
    zku_rc rc = zku_make_digest("xp:123", &digest, &err);
    if (rc != ZKU_OK || strcmp(digest, "LNcZO17uqqJ4GuYoSclIsGjYniQ=") != 0) {
        fprintf(stderr, "make_digest: %s\n", zku_strerror(rc));
        zku_error_free(err);
        return 1;
    }
    printf("downstream ok: zkutil %s, digest %s\n", zku_version(), digest);
    zku_string_free(digest);
    return 0;
}
