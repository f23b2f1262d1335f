/* The audit payload encoder (gateway/audit/entry.c) against the jansson encoding it replaced:
 * for many random events (non-ASCII, control characters, quotes, backslashes, invalid UTF-8,
 * empty and NULL members) both must give the same bytes, or both refuse the event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "entry.h"

static const char *const kinds[] = {
    "record.read",    "record.query",     "reidentify", "records.import",
    "policy.change",  "principal.change", "erasure",    "objection",
    "startup",        "shutdown",         "key.event",  "log.created",
    "access.refused", "dataset.info",     "audit.read", "policy.read",
};
static const char *const channels[] = {"none", "rest", "mcp", "cli"};
static const char *const decisions[] = {"none", "allow", "deny"};
static const char *const actions[] = {"allow", "pseudonymize", "tokenize",
                                      "mask",  "generalize",   "redact"};

static int
ref_str(json_t *o, const char *key, const char *val)
{
    json_t *v;

    if (val == NULL) {
        return 0;
    }
    v = json_string(val);
    return v == NULL || json_object_set_new(o, key, v) != 0 ? -1 : 0;
}

static int
ref_hex(json_t *o, const char *key, const uint8_t *p)
{
    char hex[2 * ECL_HASH_LEN + 1];

    if (p == NULL) {
        return 0;
    }
    ecl_hex(p, ECL_HASH_LEN, hex);
    return json_object_set_new(o, key, json_string(hex));
}

/* The jansson encoder as it was before the direct one, with the old length check that applies
 * to these events (reference); NULL when refused. */
static char *
ref_payload(const struct ecl_audit_event *ev)
{
    json_t *o = json_object();
    json_t *subjects = json_array();
    json_t *fields = json_array();
    char *text = NULL;
    int bad = 0;

    for (size_t i = 0; i < ev->nfields; i++) {
        if (strlen(ev->fields[i].name) > ECL_NAME_MAX_LEN) {
            bad = -1; /* the length limits of event_ok, unchanged */
        }
    }
    bad |= json_object_set_new(o, "v", json_integer(ECL_AUDIT_FORMAT_VERSION));
    bad |= ref_str(o, "kind", kinds[ev->kind]);
    bad |= ref_str(o, "channel", channels[ev->channel]);
    bad |= ref_str(o, "decision", decisions[ev->decision]);
    bad |= ref_str(o, "principal", ev->principal);
    bad |= ref_str(o, "role", ev->role);
    bad |= ref_str(o, "official", ev->official);
    bad |= ref_str(o, "case", ev->case_ref);
    bad |= ref_str(o, "purpose", ev->purpose);
    bad |= ref_str(o, "dataset", ev->dataset);
    bad |= ref_str(o, "rule", ev->rule_id);
    bad |= ref_str(o, "reason", ev->reason);
    bad |= ref_str(o, "request_id", ev->request_id);
    bad |= ref_str(o, "detail", ev->detail);
    bad |= ref_hex(o, "response_blake2b", ev->response_digest);
    if (ev->counted != NULL) {
        if (ev->counted->at < 0 || ev->counted->window < 0 ||
            ev->counted->records > ECL_AUDIT_COUNTED_RECORDS_MAX) {
            bad = -1; /* the limits of event_ok for "counted" */
        }
        bad |= json_object_set_new(o, "counted",
                                   json_pack("{s:I, s:I, s:I}", "at", (json_int_t)ev->counted->at,
                                             "window", (json_int_t)ev->counted->window, "records",
                                             (json_int_t)ev->counted->records));
    }
    if (ev->policy_version != 0 || ev->policy_hash != NULL) {
        json_t *pol = json_object();
        bad |= json_object_set_new(pol, "version", json_integer((json_int_t)ev->policy_version));
        bad |= ref_hex(pol, "hash", ev->policy_hash);
        bad |= json_object_set_new(o, "policy", pol);
    }
    for (size_t i = 0; i < ev->nsubjects; i++) {
        json_t *s = json_string(ev->subjects[i]);
        bad |= s == NULL ? -1 : json_array_append_new(subjects, s);
    }
    for (size_t i = 0; i < ev->nfields; i++) {
        json_t *f = json_object();
        bad |= ref_str(f, "field", ev->fields[i].name);
        bad |= ref_str(f, "action", actions[ev->fields[i].action]);
        bad |= json_array_append_new(fields, f);
    }
    if (json_array_size(subjects) > 0) {
        bad |= json_object_set(o, "subjects", subjects);
    }
    if (json_array_size(fields) > 0) {
        bad |= json_object_set(o, "fields", fields);
    }
    if (bad == 0) {
        text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    }
    json_decref(subjects);
    json_decref(fields);
    json_decref(o);
    return text;
}

/* xorshift: reproducible */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t
rnd(uint32_t n)
{
    return tu_rand(&rng_state, n);
}

/* A random string into o (room for 200 bytes): NULL sometimes, empty sometimes, mostly valid
 * UTF-8 with every class of character jansson treats specially, invalid bytes rarely. */
static const char *
rnd_str(char *o, int may_null, int invalid_rate)
{
    size_t n = 0;
    uint32_t len;

    if (may_null && rnd(6) == 0) {
        return NULL;
    }
    len = rnd(8) == 0 ? 0 : rnd(40);
    for (uint32_t i = 0; i < len && n < 190; i++) {
        uint32_t k = rnd(20);
        if (k < 8) {
            o[n++] = (char)(0x20 + rnd(0x5F)); /* printable ASCII incl. " \ / */
        } else if (k < 10) {
            o[n++] = (char)(1 + rnd(0x1F)); /* controls */
        } else if (k == 10) {
            o[n++] = (char)"\"\\/\x7f"[rnd(4)];
        } else if (k < 13) {
            n += tu_utf8_put(o + n, 0x80 + rnd(0x780)); /* 2 bytes */
        } else if (k < 16) {
            uint32_t cp = 0x800 + rnd(0x10000 - 0x800);
            if (cp >= 0xD800 && cp <= 0xDFFF && rnd(invalid_rate + 1) != 0) {
                cp = 0xE000; /* surrogates only as often as other invalid input */
            }
            n += tu_utf8_put(o + n, cp);
        } else if (k < 18) {
            n += tu_utf8_put(o + n, 0x10000 + rnd(0x100000)); /* beyond the BMP */
        } else if (rnd(invalid_rate + 1) == 0) {
            static const char *const bad[] = {"\x80",     "\xc0\xaf",         "\xc3",
                                              "\xe2\x82", "\xed\xa0\x80",     "\xf4\x90\x80\x80",
                                              "\xff",     "\xf0\x8f\xbf\xbf", "\xe0\x9f\xbf"};
            const char *b = bad[rnd(sizeof bad / sizeof bad[0])];
            memcpy(o + n, b, strlen(b));
            n += strlen(b);
        } else {
            o[n++] = 'x';
        }
    }
    o[n] = 0;
    return o;
}

static void
check_event(const struct ecl_audit_event *ev, size_t *nvalid)
{
    struct ecl_buf b;
    char *ref = ref_payload(ev);
    enum ecl_status st;

    ecl_buf_init(&b, ECL_AUDIT_ENTRY_MAX_BYTES);
    assert_int_equal(ecl_buf_append_str(&b, "prefix"), ECL_OK);
    st = ecl_audit_payload_build(ev, &b);
    if (ref == NULL) {
        assert_int_equal(st, ECL_ERR_INVALID);
        assert_int_equal(b.len, 6); /* a refused event leaves nothing behind */
    } else {
        assert_int_equal(st, ECL_OK);
        assert_int_equal(b.len, 6 + strlen(ref));
        assert_memory_equal(b.ptr + 6, ref, strlen(ref));
        (*nvalid)++;
    }
    free(ref);
    ecl_buf_free(&b);
}

static void
test_random_events_match_jansson(void **state)
{
    static char strs[10][200];
    static char subj[8][200];
    static char fname[8][200];
    const char *subjects[8];
    struct ecl_audit_field fields[8];
    uint8_t hash[ECL_HASH_LEN];
    uint8_t digest[ECL_HASH_LEN];
    struct ecl_audit_counted counted;
    size_t nvalid = 0;
    size_t total = 4000;

    (void)state;
    for (size_t round = 0; round < total; round++) {
        struct ecl_audit_event ev;
        int invalid_rate = round % 2 == 0 ? 200 : 4; /* half the rounds nearly always valid */
        memset(&ev, 0, sizeof ev);
        ev.kind = (enum ecl_audit_kind)rnd(ECL_AUDIT_KIND_COUNT);
        ev.channel = (enum ecl_audit_channel)rnd(ECL_AUDIT_CHANNEL_COUNT);
        ev.decision = (enum ecl_audit_decision)rnd(ECL_AUDIT_DECISION_COUNT);
        ev.principal = rnd_str(strs[0], 1, invalid_rate);
        ev.role = rnd_str(strs[1], 1, invalid_rate);
        ev.official = rnd_str(strs[2], 1, invalid_rate);
        ev.case_ref = rnd_str(strs[3], 1, invalid_rate);
        ev.purpose = rnd_str(strs[4], 1, invalid_rate);
        ev.dataset = rnd_str(strs[5], 1, invalid_rate);
        ev.rule_id = rnd_str(strs[6], 1, invalid_rate);
        ev.reason = rnd_str(strs[7], 1, invalid_rate);
        ev.request_id = rnd_str(strs[8], 1, invalid_rate);
        ev.detail = rnd_str(strs[9], 1, invalid_rate);
        ev.nsubjects = rnd(4) == 0 ? rnd(9) : 0;
        for (size_t i = 0; i < ev.nsubjects; i++) {
            subjects[i] = rnd_str(subj[i], 0, invalid_rate);
        }
        ev.subjects = ev.nsubjects > 0 ? subjects : NULL;
        ev.nfields = rnd(3) == 0 ? rnd(9) : 0;
        for (size_t i = 0; i < ev.nfields; i++) {
            fields[i].name = rnd_str(fname[i], 0, invalid_rate);
            fields[i].action = (enum ecl_action_kind)rnd(ECL_ACT_COUNT);
        }
        ev.fields = ev.nfields > 0 ? fields : NULL;
        switch (rnd(4)) {
        case 0:
            break;
        case 1:
            ev.policy_version = rnd(1000);
            break;
        case 2:
            ev.policy_version = ((uint64_t)rnd(0xFFFFFFFFu) << 32) | rnd(0xFFFFFFFFu);
            ev.policy_hash = hash;
            break;
        default:
            ev.policy_hash = hash;
            break;
        }
        for (size_t i = 0; i < ECL_HASH_LEN; i++) {
            hash[i] = (uint8_t)rnd(256);
            digest[i] = (uint8_t)rnd(256);
        }
        ev.response_digest = rnd(2) == 0 ? digest : NULL;
        if (rnd(3) == 0) {
            /* counted: large and negative clocks, records around the limit */
            counted.at = rnd(8) == 0 ? -(int64_t)rnd(100) : (int64_t)rnd(0xFFFFFFFFu) * 1000;
            counted.window = rnd(8) == 0 ? -1 : counted.at - (int64_t)rnd(60);
            counted.records = ECL_AUDIT_COUNTED_RECORDS_MAX - 2 + rnd(4);
            if (rnd(2) == 0) {
                counted.records = rnd(1000);
            }
            ev.counted = &counted;
        }
        check_event(&ev, &nvalid);
    }
    /* both branches were exercised */
    assert_true(nvalid > total / 4);
    assert_true(nvalid < total);
}

/* Fixed cases: the escapes jansson uses, spelled out (the reference must agree too). */
static void
test_known_encoding(void **state)
{
    static const char *const subjects[] = {"a\"b\\c/d\x7f", "\x01\x1f\b\f\n\r\t",
                                           "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", ""};
    struct ecl_audit_field f = {.name = "birth_date", .action = ECL_ACT_GENERALIZE};
    struct ecl_audit_event ev;
    struct ecl_buf b;
    size_t nvalid = 0;
    const char *want = "{\"case\":\"\",\"channel\":\"rest\",\"decision\":\"allow\","
                       "\"fields\":[{\"action\":\"generalize\",\"field\":\"birth_date\"}],"
                       "\"kind\":\"record.read\",\"policy\":{\"version\":-1},"
                       "\"subjects\":[\"a\\\"b\\\\c/d\x7f\",\"\\u0001\\u001F\\b\\f\\n\\r\\t\","
                       "\"\\u00E9\\u20AC\\uD83D\\uDE00\",\"\"],\"v\":1}";

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_RECORD_READ;
    ev.channel = ECL_AUDIT_CH_REST;
    ev.decision = ECL_AUDIT_ALLOW;
    ev.case_ref = "";
    ev.subjects = subjects;
    ev.nsubjects = 4;
    ev.fields = &f;
    ev.nfields = 1;
    ev.policy_version = UINT64_MAX;
    ecl_buf_init(&b, ECL_AUDIT_ENTRY_MAX_BYTES);
    assert_int_equal(ecl_audit_payload_build(&ev, &b), ECL_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    ecl_buf_free(&b);
    check_event(&ev, &nvalid);
    assert_int_equal(nvalid, 1);
    /* a truncated sequence refuses the event */
    ev.role = "ok\xe2\x82";
    ecl_buf_init(&b, ECL_AUDIT_ENTRY_MAX_BYTES);
    assert_int_equal(ecl_audit_payload_build(&ev, &b), ECL_ERR_INVALID);
    assert_int_equal(b.len, 0);
    ecl_buf_free(&b);
    /* an entry over the cap is refused with LIMIT and leaves nothing */
    ev.role = NULL;
    ecl_buf_init(&b, 40);
    assert_int_equal(ecl_audit_payload_build(&ev, &b), ECL_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    ecl_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_encoding),
        cmocka_unit_test(test_random_events_match_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
