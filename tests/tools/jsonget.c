/*
 * jsonget.c — test helper: print values from a JSON document by JSON
 * Pointer (RFC 6901), so the shell tests need neither python nor jq.
 *
 *   jsonget [-t | -l] [-f FILE] POINTER...
 *
 * Reads the document from FILE (default stdin, at most 4 MiB) and prints
 * one line per POINTER: strings raw (no quotes, no escapes; a string that
 * holds a newline is printed as is), integral numbers without a fraction,
 * other numbers with %.17g, true/false/null as words, objects and arrays as
 * compact JSON. -t prints the type instead (object, array, string, number,
 * bool, null); -l prints the number of members of an object or array.
 *
 * Exit status: 0 when every pointer resolved; 1 when the input is not JSON
 * or a pointer does not resolve (the pointer is named on stderr); 2 on
 * usage errors. Caveat: duplicate object keys resolve to the first one
 * (cJSON's lookup), which is what verifierd itself sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_INPUT (4u * 1024 * 1024)

static char *read_all(FILE *f, size_t *len)
{
    char *buf = malloc(MAX_INPUT + 1);
    size_t n;

    if (buf == NULL)
        return NULL;
    n = fread(buf, 1, MAX_INPUT + 1, f);
    if (ferror(f) || n > MAX_INPUT) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Decode one reference token (~1 -> '/', ~0 -> '~') of @n bytes into @out. */
static int unescape(char *out, size_t cap, const char *tok, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = tok[i];

        if (ch == '~') {
            if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
                return -1;
            ch = tok[i + 1] == '0' ? '~' : '/';
            i++;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}

static const cJSON *resolve(const cJSON *root, const char *ptr)
{
    const cJSON *cur = root;
    char tok[1024];

    if (ptr[0] == '\0')
        return root;
    if (ptr[0] != '/')
        return NULL;
    while (cur != NULL && *ptr == '/') {
        size_t n;

        ptr++;
        n = strcspn(ptr, "/");
        if (unescape(tok, sizeof(tok), ptr, n) != 0)
            return NULL;
        ptr += n;
        if (cJSON_IsArray(cur)) {
            char *end;
            unsigned long idx;

            if (tok[0] == '\0' || tok[0] == '-' || tok[0] == '+' || (tok[0] == '0' && tok[1] != '\0'))
                return NULL;
            errno = 0;
            idx = strtoul(tok, &end, 10);
            if (errno != 0 || *end != '\0' || idx >= (unsigned long)cJSON_GetArraySize(cur))
                return NULL;
            cur = cJSON_GetArrayItem(cur, (int)idx);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            return NULL;
        }
    }
    return cur;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "object";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "bool";
    return "null";
}

static int print_value(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        fputs(v->valuestring, stdout);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;

        if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0)
            printf("%lld", (long long)d);
        else
            printf("%.17g", d);
    } else if (cJSON_IsTrue(v)) {
        fputs("true", stdout);
    } else if (cJSON_IsFalse(v)) {
        fputs("false", stdout);
    } else if (cJSON_IsNull(v)) {
        fputs("null", stdout);
    } else {
        char *s = cJSON_PrintUnformatted(v);

        if (s == NULL)
            return -1;
        fputs(s, stdout);
        free(s);
    }
    putchar('\n');
    return 0;
}

static void usage(void)
{
    fputs("usage: jsonget [-t | -l] [-f FILE] POINTER...\n", stderr);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int mode = 0, i = 1, rc = 0;
    FILE *f = stdin;
    char *buf;
    size_t len = 0;
    cJSON *root;

    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-l") == 0) {
            mode = argv[i][1];
        } else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            usage();
            return 2;
        }
    }
    if (i >= argc) {
        usage();
        return 2;
    }
    if (file != NULL && (f = fopen(file, "rb")) == NULL) {
        fprintf(stderr, "jsonget: %s: %s\n", file, strerror(errno));
        return 1;
    }
    buf = read_all(f, &len);
    if (f != stdin)
        fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "jsonget: cannot read the input (or larger than 4 MiB)\n");
        return 1;
    }
    root = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (root == NULL) {
        fprintf(stderr, "jsonget: input is not JSON\n");
        return 1;
    }
    for (; i < argc; i++) {
        const cJSON *v = resolve(root, argv[i]);

        if (v == NULL) {
            fprintf(stderr, "jsonget: %s: no such member\n", argv[i]);
            rc = 1;
            continue;
        }
        if (mode == 't') {
            puts(type_name(v));
        } else if (mode == 'l') {
            if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
                fprintf(stderr, "jsonget: %s: not an object or array\n", argv[i]);
                rc = 1;
                continue;
            }
            printf("%d\n", cJSON_GetArraySize(v));
        } else if (print_value(v) != 0) {
            rc = 1;
        }
    }
    cJSON_Delete(root);
    return rc;
}
