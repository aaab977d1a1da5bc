/*
 * test_error.c — vfy_strerror and vfy_rc_name (error.c), and the version.
 *
 * Parses error.h itself so that a code added to the enum without a row in
 * error.c's table fails here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"

Test(error, every_enum_value_has_a_row)
{
    const char *src = getenv("VFY_SOURCE_DIR");
    char path[4096], line[512];
    FILE *f;
    int seen = 0;

    cr_assert_not_null(src, "VFY_SOURCE_DIR not set (run under ctest)");
    snprintf(path, sizeof(path), "%s/libverify/include/verify/error.h", src);
    f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = strstr(line, "VFY_E_"), *eq, *end;
        char name[64];
        long v;

        if (p == NULL || (eq = strchr(p, '=')) == NULL || strchr(p, ',') == NULL)
            continue;
        size_t n = strcspn(p, " =");
        cr_assert_lt(n, sizeof(name));
        memcpy(name, p, n);
        name[n] = '\0';
        v = strtol(eq + 1, &end, 10);
        cr_assert_neq(end, eq + 1);
        cr_assert_str_eq(vfy_rc_name((vfy_rc)v), name, "code %ld", v);
        cr_assert_str_neq(vfy_strerror((vfy_rc)v), "unknown error", "%s", name);
        seen++;
    }
    fclose(f);
    cr_assert_gt(seen, 30);
}

Test(error, unknown_values)
{
    cr_assert_str_eq(vfy_strerror((vfy_rc)99999), "unknown error");
    cr_assert_str_eq(vfy_rc_name((vfy_rc)-1), "VFY_E_?");
    cr_assert_str_eq(vfy_rc_name(VFY_OK), "VFY_OK");
}

Test(version, matches_header)
{
    cr_assert_str_eq(vfy_version(), VFY_VERSION_STRING);
    cr_assert_eq(vfy_version_num(), VFY_VERSION_NUM);
    cr_assert_eq(VFY_VERSION_NUM, (VFY_VERSION_MAJOR << 16) | (VFY_VERSION_MINOR << 8) | VFY_VERSION_PATCH);
}
