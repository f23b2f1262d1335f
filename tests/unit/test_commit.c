/* ecl_api_commit, the audit-then-respond core shared by the REST handlers, the DPO API and the
 * disclosure path (REST and MCP): the released body, the digest recorded in the entry (computed
 * here from the expected literal body, not with ecl_api_body_digest), an answer without a body,
 * and refusals that must not call back. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/app.h"
#include "ecl/crypto.h"
#include "testutil.h"

struct env {
    char *dir;
    struct ecl_app app;
};

/* What the callback saw. */
struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    enum ecl_status st;
    uint64_t seq;
    char body[512];
    int has_body;
};

static void
env_open(struct env *e)
{
    memset(e, 0, sizeof *e);
    e->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e->dir, NULL, "test.example/commit"), ECL_OK);
    assert_int_equal(ecl_store_create(e->dir), ECL_OK);
    assert_int_equal(ecl_keyring_load(e->dir, NULL, &e->app.kr), ECL_OK);
    assert_int_equal(ecl_store_open(e->dir, ECL_STORE_DEFAULT, &e->app.store), ECL_OK);
    assert_int_equal(ecl_audit_open(e->app.store, e->app.kr, &e->app.audit), ECL_OK);
}

static void
env_close(struct env *e)
{
    ecl_audit_close(e->app.audit);
    ecl_store_close(e->app.store);
    ecl_keyring_free(e->app.kr);
    tu_rmtree(e->dir);
    free(e->dir);
}

static void
seen_init(struct seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void
done(void *arg, enum ecl_status st, uint64_t seq, const char *body, size_t body_len)
{
    struct seen *s = arg;

    pthread_mutex_lock(&s->mu);
    s->calls++;
    s->st = st;
    s->seq = seq;
    s->has_body = body != NULL;
    if (body != NULL && body_len < sizeof s->body) {
        memcpy(s->body, body, body_len);
        s->body[body_len] = 0;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
seen_wait(struct seen *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->calls == 0) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

static void
event_init(struct ecl_audit_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = ECL_AUDIT_RECORD_READ;
    ev->channel = ECL_AUDIT_CH_MCP;
    ev->principal = "agent-1";
    ev->role = "agent";
    ev->decision = ECL_AUDIT_ALLOW;
    ev->reason = "ok";
    ev->request_id = "req-1";
}

/* The entry's response_blake2b, or NULL when it has none. */
static const char *
entry_digest(struct env *e, uint64_t seq, char out[2 * ECL_HASH_LEN + 1])
{
    struct ecl_audit_entry en;
    const char *hex;

    assert_int_equal(ecl_audit_entry_get(e->app.store, e->app.kr, seq, &en), ECL_OK);
    hex = json_string_value(json_object_get(en.payload, "response_blake2b"));
    if (hex != NULL) {
        snprintf(out, 2 * ECL_HASH_LEN + 1, "%s", hex);
    }
    ecl_audit_entry_free(&en);
    return hex != NULL ? out : NULL;
}

static void
check_answer(struct env *e, json_t *data, json_t *meta, const char *digested, const char *head)
{
    struct ecl_audit_event ev;
    struct seen s;
    uint8_t want[ECL_HASH_LEN];
    char want_hex[2 * ECL_HASH_LEN + 1];
    char got_hex[2 * ECL_HASH_LEN + 1];
    char expected[512];

    event_init(&ev);
    seen_init(&s);
    assert_int_equal(ecl_api_commit(&e->app, &ev, data, meta, done, &s), ECL_OK);
    assert_null(ev.response_digest); /* the caller's value is back */
    seen_wait(&s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.st, ECL_OK);
    assert_true(s.has_body);
    /* head: the expected body up to "audit_seq": */
    snprintf(expected, sizeof expected, "%s%" PRIu64 "}}", head, s.seq);
    assert_string_equal(s.body, expected);
    /* the entry holds the digest of the body without meta.audit_seq */
    ecl_crypto_blake2b(want, sizeof want, NULL, 0, (const uint8_t *)digested, strlen(digested));
    ecl_hex(want, sizeof want, want_hex);
    assert_non_null(entry_digest(e, s.seq, got_hex));
    assert_string_equal(got_hex, want_hex);
}

static void
test_body_and_digest(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    /* sorted keys, compact, UTF-8 kept; audit_seq appended to meta */
    check_answer(&e, json_pack("{s:s,s:[i,n]}", "b", "\xc3\xa9t\xc3\xa9", "a", 1),
                 json_pack("{s:i,s:s}", "policy_version", 2, "obligations", "x"),
                 "{\"data\":{\"a\":[1,null],\"b\":\"\xc3\xa9t\xc3\xa9\"},\"meta\":{"
                 "\"obligations\":\"x\",\"policy_version\":2}}",
                 "{\"data\":{\"a\":[1,null],\"b\":\"\xc3\xa9t\xc3\xa9\"},\"meta\":{"
                 "\"obligations\":\"x\",\"policy_version\":2,\"audit_seq\":");
    /* an empty meta: audit_seq is its only member; data may be any JSON value */
    check_answer(&e, json_array(), json_object(), "{\"data\":[],\"meta\":{}}",
                 "{\"data\":[],\"meta\":{\"audit_seq\":");
    env_close(&e);
}

static void
test_without_body(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    struct seen s;
    char hex[2 * ECL_HASH_LEN + 1];

    (void)state;
    env_open(&e);
    event_init(&ev);
    ev.decision = ECL_AUDIT_DENY;
    ev.reason = "policy.no_matching_rule";
    seen_init(&s);
    assert_int_equal(ecl_api_commit(&e.app, &ev, NULL, NULL, done, &s), ECL_OK);
    seen_wait(&s);
    assert_int_equal(s.st, ECL_OK);
    assert_false(s.has_body);
    assert_null(entry_digest(&e, s.seq, hex));
    env_close(&e);
}

static void
test_refused_without_callback(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    struct seen s;

    (void)state;
    env_open(&e);
    event_init(&ev);
    seen_init(&s);
    /* meta must be an object; one of data/meta alone is not an answer */
    assert_int_equal(ecl_api_commit(&e.app, &ev, json_object(), json_array(), done, &s),
                     ECL_ERR_NOMEM);
    assert_int_equal(ecl_api_commit(&e.app, &ev, json_object(), NULL, done, &s), ECL_ERR_NOMEM);
    assert_int_equal(ecl_api_commit(&e.app, &ev, NULL, json_object(), done, &s), ECL_ERR_NOMEM);
    /* an event the log refuses (no kind) */
    ev.kind = ECL_AUDIT_KIND_COUNT;
    assert_int_equal(ecl_api_commit(&e.app, &ev, json_true(), json_object(), done, &s),
                     ECL_ERR_INTERNAL);
    env_close(&e);
    assert_int_equal(s.calls, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_and_digest),
        cmocka_unit_test(test_without_body),
        cmocka_unit_test(test_refused_without_callback),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
