/* The strict JSON reader (src/io/json.c) on arbitrary text; on success every
 * object's members are found again by key. */
#include <string.h>

#include "fuzz.h"
#include "io/json.h"

static void walk(const fmcl_json *v, int depth)
{
    if (depth > FMCL_JSON_MAX_DEPTH) fuzz_fail("deeper than the nesting limit");
    for (int i = 0; i < v->count; i++) {
        const fmcl_json *c = &v->items[i];
        if (v->type == FMCL_JSON_OBJECT && fmcl_json_get(v, c->key) != c)
            fuzz_fail("a member is not found by its key (duplicate keys?)");
        if (c->type == FMCL_JSON_STRING && !fmcl_utf8_valid(c->string, strlen(c->string)))
            fuzz_fail("a decoded string is not UTF-8");
        walk(c, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmcl_json *v = NULL;
    char err[512];
    if (fmcl_json_parse((const char *)data, size, &v, err, sizeof err) == FMCL_OK) {
        walk(v, 0);
        fmcl_json_free(v);
    } else if (v) {
        fuzz_fail("a failed parse left a value");
    }
    return 0;
}
