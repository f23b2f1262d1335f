/* The answer to a successful MCP tool call (tool_ok_response, gateway/mcp/mcp.c), spliced from
 * the released bytes, against the way it was built before: the released body parsed into a tree,
 * the text item rendered as summary + json_dump(tree), packed into the tool result and the
 * JSON-RPC envelope with json_pack and dumped compact by jansson (old_answer below, kept as the
 * reference).  The bodies are made as the disclose path makes them (commit.c: data and meta
 * through ecl_api_json_dump, meta completed with audit_seq), from random trees of every shape
 * the five tools return, with strings of every class of character, and random JSON-RPC ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "api/json_dump.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "mcp/mcp_internal.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t
rnd(uint32_t n)
{
    return tu_rand(&rng_state, n);
}

/* Random valid UTF-8 into o (room for 128): ASCII, controls, quotes, 2- to 4-byte sequences. */
static size_t
rnd_text(char *o)
{
    size_t n = 0;
    uint32_t len = rnd(6) == 0 ? 0 : rnd(24);

    for (uint32_t i = 0; i < len && n < 110; i++) {
        uint32_t k = rnd(20);
        if (k < 10) {
            o[n++] = (char)(0x20 + rnd(0x60)); /* printable ASCII and DEL */
        } else if (k < 12) {
            o[n++] = (char)(1 + rnd(0x1F));
        } else if (k < 14) {
            n += tu_utf8_put(o + n, 0x80 + rnd(0x780));
        } else if (k < 17) {
            uint32_t cp = 0x800 + rnd(0x10000 - 0x800);
            n += tu_utf8_put(o + n, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
        } else if (k < 18) {
            n += tu_utf8_put(o + n, 0x10000 + rnd(0x100000));
        } else {
            o[n++] = "\"\\/"[rnd(3)];
        }
    }
    return n;
}

static json_t *
rnd_string(void)
{
    char t[128];
    size_t n = rnd_text(t);

    return json_stringn(t, n);
}

static json_t *
rnd_tree(unsigned depth)
{
    uint32_t k = depth > 4 ? 4 + rnd(6) : rnd(10);

    switch (k) {
    case 0:
    case 1: {
        json_t *o = json_object();
        uint32_t n = rnd(8);
        for (uint32_t i = 0; i < n; i++) {
            char t[128];
            size_t kl = rnd_text(t);
            json_object_setn_new(o, t, kl, rnd_tree(depth + 1));
        }
        return o;
    }
    case 2:
    case 3: {
        json_t *a = json_array();
        uint32_t n = rnd(5);
        for (uint32_t i = 0; i < n; i++) {
            json_array_append_new(a, rnd_tree(depth + 1));
        }
        return a;
    }
    case 4:
    case 5:
        return rnd_string();
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

/* A record as the gateway releases it: field -> value (pseudonyms, tokens, nulls, ...). */
static json_t *
rnd_record(void)
{
    json_t *o = json_object();
    uint32_t n = 1 + rnd(12);

    for (uint32_t i = 0; i < n; i++) {
        char name[24];
        (void)snprintf(name, sizeof name, "field_%u", rnd(40));
        json_object_set_new(o, name, rnd_tree(1));
    }
    return o;
}

static json_t *
rnd_array(json_t *(*make)(void), uint32_t max)
{
    json_t *a = json_array();
    uint32_t n = rnd(max + 1);

    for (uint32_t i = 0; i < n; i++) {
        json_array_append_new(a, make());
    }
    return a;
}

static json_t *
rnd_small_tree(void)
{
    return rnd_tree(2);
}

/* The data of tool t, with what its summary line reads. */
static json_t *
rnd_data(enum ecl_mcp_tool t)
{
    switch (t) {
    case ECL_MCP_TOOL_LIST_DATASETS:
        return rnd_array(rnd_small_tree, 4);
    case ECL_MCP_TOOL_DESCRIBE_DATASET:
        return json_pack("{s:o,s:o,s:o,s:o}", "name", rnd_string(), "fields",
                         rnd_array(rnd_small_tree, 6), "purposes", rnd_array(rnd_small_tree, 3),
                         "description", rnd_tree(3));
    case ECL_MCP_TOOL_GET_RECORD:
        return rnd_record();
    case ECL_MCP_TOOL_QUERY_RECORDS:
        return rnd_array(rnd_record, 6);
    case ECL_MCP_TOOL_EXPLAIN_ACCESS:
        return json_pack("{s:o,s:o}", "purpose", rnd_string(), "datasets",
                         rnd_array(rnd_small_tree, 3));
    }
    return json_null();
}

static json_t *
rnd_meta(void)
{
    json_t *m = json_pack("{s:o,s:o,s:s}", "rule_id", rnd_string(), "obligations",
                          rnd_array(rnd_string, 3), "request_id", "req-1");

    if (rnd(2) == 0) {
        json_object_set_new(m, "next_cursor", rnd_string());
    }
    if (rnd(2) == 0) {
        json_object_set_new(m, "extra", rnd_tree(2));
    }
    return m;
}

static void
append_dump(struct ecl_buf *b, const json_t *v)
{
    assert_int_equal(ecl_api_json_dump(v, b), ECL_OK);
}

/* The released body, as commit.c's body_build writes it. */
static void
make_body(json_t *data, json_t *meta, uint64_t seq, struct ecl_buf *body)
{
    struct ecl_buf m;
    char num[32];

    ecl_buf_init(&m, SIZE_MAX);
    append_dump(&m, meta);
    assert_true(m.len >= 2);
    (void)snprintf(num, sizeof num, "%llu}}", (unsigned long long)seq);
    assert_int_equal(ecl_buf_append_str(body, "{\"data\":"), ECL_OK);
    append_dump(body, data);
    assert_int_equal(ecl_buf_append_str(body, ",\"meta\":"), ECL_OK);
    assert_int_equal(ecl_buf_append(body, m.ptr, m.len - 1), ECL_OK);
    assert_int_equal(ecl_buf_append_str(body, m.len > 2 ? ",\"audit_seq\":" : "\"audit_seq\":"),
                     ECL_OK);
    assert_int_equal(ecl_buf_append_str(body, num), ECL_OK);
    ecl_buf_free(&m);
}

static int
dump_cb(const char *p, size_t n, void *arg)
{
    return ecl_buf_append((struct ecl_buf *)arg, p, n) == ECL_OK ? 0 : -1;
}

/* The previous construction (mcp.c call_respond and tools.c tools_render_text before the
 * splice): a malloc'd string, NULL where it failed. */
static char *
old_answer(enum ecl_mcp_tool tool, const json_t *id, json_t *result)
{
    struct ecl_buf b;
    json_t *text = NULL;
    json_t *res;
    json_t *msg;
    char *s;

    ecl_buf_init(&b, ECL_MCP_MAX_RESPONSE_BYTES);
    /* the summary line alone: tools_render_text with nothing after it */
    if (tools_render_text(tool, result, "", 0, &b) == ECL_OK &&
        json_dump_callback(result, dump_cb, &b, JSON_COMPACT) == 0) {
        text = json_stringn((const char *)b.ptr, b.len);
    }
    ecl_buf_free(&b);
    if (text == NULL) {
        return NULL;
    }
    res = json_pack("{s:[{s:s,s:o}],s:o,s:b}", "content", "type", "text", "text", text,
                    "structuredContent", json_incref(result), "isError", 0);
    assert_non_null(res);
    msg = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", res);
    assert_non_null(msg);
    s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return s;
}

static json_t *
rnd_id(void)
{
    switch (rnd(3)) {
    case 0:
        return json_integer((json_int_t)rnd(0xFFFFFFFFu) - (json_int_t)rnd(1u << 31));
    case 1:
        return json_integer(rnd(2) == 0 ? INT64_MAX : INT64_MIN);
    default:
        return rnd_string();
    }
}

static void
test_spliced_answer_is_byte_identical(void **state)
{
    size_t compared = 0;

    (void)state;
    for (unsigned i = 0; i < 3000; i++) {
        enum ecl_mcp_tool tool = (enum ecl_mcp_tool)rnd(ECL_MCP_TOOL_COUNT);
        json_t *data = rnd_data(tool);
        json_t *meta = rnd_meta();
        json_t *id = rnd_id();
        uint64_t seq = rnd(4) == 0 ? (uint64_t)INT64_MAX : rnd(0xFFFFFFFFu);
        struct ecl_buf body;
        struct ecl_buf out;
        const char *why = NULL;
        json_t *result;
        char *ref;

        ecl_buf_init(&body, SIZE_MAX);
        ecl_buf_init(&out, ECL_MCP_MAX_RESPONSE_BYTES);
        make_body(data, meta, seq, &body);
        /* what mcp_backend.c's disclosed does with the released bytes */
        result = ecl_json_load((const char *)body.ptr, body.len, ECL_JSON_MAX_DEPTH, &why, NULL);
        assert_non_null(result);
        ref = old_answer(tool, id, result);
        assert_non_null(ref);
        assert_int_equal(tool_ok_response(tool, id, result, (const char *)body.ptr, body.len, &out),
                         TOOL_OK_BUILT);
        assert_int_equal(out.len, strlen(ref));
        assert_memory_equal(out.ptr, ref, out.len);
        compared++;
        free(ref);
        json_decref(result);
        json_decref(id);
        json_decref(data);
        json_decref(meta);
        ecl_buf_free(&out);
        ecl_buf_free(&body);
    }
    assert_int_equal(compared, 3000);
}

/* The splice sends the given bytes: a body that is not what the tree dumps to shows (the test
 * above would catch an encoder that drifted from jansson). */
static void
test_spliced_bytes_are_the_given_ones(void **state)
{
    static const char body[] = "{\"data\":{\"a\":1},\"meta\":{\"rule_id\":\"r\",\"audit_seq\":7}}";
    static const char other[] = "{\"data\":{\"a\":2},\"meta\":{\"rule_id\":\"r\",\"audit_seq\":7}}";
    const char *why = NULL;
    json_t *result = ecl_json_load(body, sizeof body - 1, ECL_JSON_MAX_DEPTH, &why, NULL);
    json_t *id = json_integer(3);
    struct ecl_buf out;
    char *ref;

    (void)state;
    ecl_buf_init(&out, ECL_MCP_MAX_RESPONSE_BYTES);
    ref = old_answer(ECL_MCP_TOOL_GET_RECORD, id, result);
    assert_non_null(ref);
    assert_int_equal(
        tool_ok_response(ECL_MCP_TOOL_GET_RECORD, id, result, body, sizeof body - 1, &out),
        TOOL_OK_BUILT);
    assert_int_equal(out.len, strlen(ref));
    assert_memory_equal(out.ptr, ref, out.len);
    assert_non_null(strstr(ref, "Audit entry 7.\\n{\\\"data\\\":{\\\"a\\\":1}"));
    assert_int_equal(
        tool_ok_response(ECL_MCP_TOOL_GET_RECORD, id, result, other, sizeof other - 1, &out),
        TOOL_OK_BUILT);
    assert_int_equal(out.len, strlen(ref));
    assert_memory_not_equal(out.ptr, ref, out.len);
    free(ref);
    json_decref(id);
    json_decref(result);
    ecl_buf_free(&out);
}

/* Failures: text that is not UTF-8 is a failure answer (json_stringn refused it before); an
 * answer beyond the cap is never truncated; out is left empty either way. */
static void
test_failures_leave_nothing(void **state)
{
    static const char body[] = "{\"data\":{\"a\":1},\"meta\":{\"rule_id\":\"r\",\"audit_seq\":7}}";
    static const char bad[] = "{\"data\":{\"a\":\"\xc3\"},\"meta\":{\"audit_seq\":7}}";
    const char *why = NULL;
    json_t *result = ecl_json_load(body, sizeof body - 1, ECL_JSON_MAX_DEPTH, &why, NULL);
    json_t *id = json_string("x");
    struct ecl_buf out;
    struct ecl_buf small;

    (void)state;
    ecl_buf_init(&out, ECL_MCP_MAX_RESPONSE_BYTES);
    assert_int_equal(ecl_buf_append_str(&out, "stale"), ECL_OK);
    assert_int_equal(
        tool_ok_response(ECL_MCP_TOOL_GET_RECORD, id, result, bad, sizeof bad - 1, &out),
        TOOL_OK_TEXT);
    assert_int_equal(out.len, 0);
    ecl_buf_init(&small, 200); /* the text fits, the whole answer does not */
    assert_int_equal(
        tool_ok_response(ECL_MCP_TOOL_GET_RECORD, id, result, body, sizeof body - 1, &small),
        TOOL_OK_TOO_BIG);
    assert_int_equal(small.len, 0);
    assert_int_equal(
        tool_ok_response(ECL_MCP_TOOL_GET_RECORD, id, result, body, sizeof body - 1, &out),
        TOOL_OK_BUILT);
    ecl_buf_free(&small);
    ecl_buf_free(&out);
    json_decref(id);
    json_decref(result);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spliced_answer_is_byte_identical),
        cmocka_unit_test(test_spliced_bytes_are_the_given_ones),
        cmocka_unit_test(test_failures_leave_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
