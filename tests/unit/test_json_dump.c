/* ecl_api_json_dump (gateway/api/json_dump.c) against json_dumps(JSON_COMPACT | JSON_SORT_KEYS |
 * JSON_ENCODE_ANY) over random trees: strings with every class of character (controls, quotes,
 * UTF-8 of every length, invalid UTF-8), keys with common prefixes and embedded NULs, extreme
 * integers, reals, large objects (heap sort path) and deep nesting (jansson fallback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "api/json_dump.h"
#include "ecl/limits.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint32_t
rnd(uint32_t n)
{
    return tu_rand(&rng_state, n);
}

/* Random bytes into o (room for 128); invalid sequences only when invalid is set. */
static size_t
rnd_text(char *o, int invalid, int with_nul)
{
    size_t n = 0;
    uint32_t len = rnd(6) == 0 ? 0 : rnd(24);

    for (uint32_t i = 0; i < len && n < 110; i++) {
        uint32_t k = rnd(20);
        if (k < 9) {
            o[n++] = (char)(0x20 + rnd(0x60)); /* printable ASCII and DEL */
        } else if (k < 11) {
            o[n++] = (char)(with_nul ? rnd(0x20) : 1 + rnd(0x1F));
        } else if (k < 13) {
            n += tu_utf8_put(o + n, 0x80 + rnd(0x780));
        } else if (k < 16) {
            uint32_t cp = 0x800 + rnd(0x10000 - 0x800);
            n += tu_utf8_put(o + n, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
        } else if (k < 18) {
            n += tu_utf8_put(o + n, 0x10000 + rnd(0x100000));
        } else if (invalid) {
            static const char *const bad[] = {"\x80",     "\xc0\xaf",         "\xc3",
                                              "\xe2\x82", "\xed\xa0\x80",     "\xf4\x90\x80\x80",
                                              "\xff",     "\xf0\x8f\xbf\xbf", "\xe0\x9f\xbf"};
            const char *b = bad[rnd(sizeof bad / sizeof bad[0])];
            memcpy(o + n, b, strlen(b));
            n += strlen(b);
        } else {
            o[n++] = "\"\\/"[rnd(3)];
        }
    }
    return n;
}

static json_t *
rnd_tree(unsigned depth, int invalid)
{
    char t[128];
    uint32_t k = depth > 5 ? 4 + rnd(6) : rnd(10);

    switch (k) {
    case 0:
    case 1: {
        json_t *o = json_object();
        uint32_t n = rnd(10) == 0 ? 30 + rnd(20) : rnd(8);
        for (uint32_t i = 0; i < n; i++) {
            size_t kl = rnd_text(t, 0, 1);
            if (rnd(3) == 0 && kl < 100) {
                memmove(t + 3, t, kl); /* common prefixes */
                memcpy(t, "abc", 3);
                kl += 3;
            }
            json_object_setn_new_nocheck(o, t, kl, rnd_tree(depth + 1, invalid));
        }
        return o;
    }
    case 2:
    case 3: {
        json_t *a = json_array();
        uint32_t n = rnd(6);
        for (uint32_t i = 0; i < n; i++) {
            json_array_append_new(a, rnd_tree(depth + 1, invalid));
        }
        return a;
    }
    case 4:
    case 5: {
        size_t n = rnd_text(t, invalid && rnd(8) == 0, 1);
        return json_stringn_nocheck(t, n);
    }
    case 6: {
        static const json_int_t edge[] = {0, -1, 1, INT64_MAX, INT64_MIN, 9, 10, -10};
        return json_integer(rnd(2) == 0 ? edge[rnd(8)]
                                        : (json_int_t)rnd(0xFFFFFFFFu) - (json_int_t)rnd(3u << 30));
    }
    case 7: {
        static const double reals[] = {0.0, -0.0, 0.1, 1e300, -2.5e-300, 3.0, 1.0 / 3.0, 1e21};
        return json_real(reals[rnd(8)] * (double)(1 + rnd(1000)));
    }
    case 8:
        return rnd(2) == 0 ? json_true() : json_false();
    default:
        return json_null();
    }
}

static int
check(const json_t *v)
{
    char *ref = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    struct ecl_buf b;
    enum ecl_status st;
    int ok;

    ecl_buf_init(&b, SIZE_MAX);
    assert_int_equal(ecl_buf_append(&b, "pre", 3), ECL_OK);
    st = ecl_api_json_dump(v, &b);
    if (ref == NULL) {
        assert_int_equal(st, ECL_ERR_INVALID);
        assert_int_equal(b.len, 3); /* nothing left behind */
        ok = 0;
    } else {
        assert_int_equal(st, ECL_OK);
        assert_int_equal(b.len, 3 + strlen(ref));
        assert_memory_equal(b.ptr + 3, ref, strlen(ref));
        ok = 1;
    }
    free(ref);
    ecl_buf_free(&b);
    return ok;
}

static void
test_random_trees_match_jansson(void **state)
{
    size_t valid = 0;
    size_t total = 3000;

    (void)state;
    for (size_t i = 0; i < total; i++) {
        json_t *v = rnd_tree(0, i % 3 == 0);
        valid += (size_t)check(v);
        json_decref(v);
    }
    assert_true(valid > total / 2);
    assert_true(valid < total); /* the refusal path was taken too */
}

static void
test_known_and_edges(void **state)
{
    json_t *o = json_pack("{s:s, s:i, s:[], s:{}, s:b, s:n, s:s}", "b", "x\"\\\x01\n\xc3\xa9/", "a",
                          -7, "ab", "aa", "", 0, "\x7f", "\xc3\xa9", "\xf0\x9f\x98\x80");
    json_t *deep = json_array();
    json_t *cur = deep;
    struct ecl_buf b;
    const char *want = "{\"\":false,\"a\":-7,\"aa\":{},\"ab\":[],\"b\":\"x\\\"\\\\\\u0001\\n"
                       "\xc3\xa9/\",\"\x7f\":null,\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}";

    (void)state;
    assert_non_null(o);
    ecl_buf_init(&b, SIZE_MAX);
    assert_int_equal(ecl_api_json_dump(o, &b), ECL_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    ecl_buf_free(&b);
    assert_int_equal(check(o), 1);
    /* the cap: ECL_ERR_LIMIT, nothing left */
    ecl_buf_init(&b, 10);
    assert_int_equal(ecl_api_json_dump(o, &b), ECL_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    ecl_buf_free(&b);
    json_decref(o);
    /* nesting beyond ECL_JSON_DUMP_MAX_DEPTH goes through jansson: same text */
    for (int i = 0; i < ECL_JSON_DUMP_MAX_DEPTH + 10; i++) {
        json_t *next = json_object();
        json_object_set_new(next, "k", json_real(0.5));
        json_array_append_new(cur, next);
        cur = json_array();
        json_object_set_new(next, "z", cur);
    }
    assert_int_equal(check(deep), 1);
    json_decref(deep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_and_edges),
        cmocka_unit_test(test_random_trees_match_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
