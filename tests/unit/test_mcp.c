/* The MCP endpoint (gateway/mcp) against a test backend: transport rules, lifecycle, sessions,
 * tools, refusals, output schemas, synchronous and asynchronous completion, concurrency. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "ecl/crypto.h"
#include "mcp/mcp.h"
#include "mcp/mcp_internal.h"

/* ---- a test backend: a small policy in code ----------------------------------------------- */

#define RECORD_NIR  "1850775123456"
#define MAX_THREADS 64

struct fake {
    int async;        /* complete from another thread */
    int fail;         /* FAILED, sealed */
    int bad_output;   /* an OK result that breaks the outputSchema */
    int bad_code;     /* a refusal with a malformed reason code */
    atomic_int calls; /* backend calls */
    atomic_int seq;   /* the next "audit sequence number" */
    pthread_t threads[MAX_THREADS];
    atomic_int nthreads;
};

static struct fake F;

static const char VIEW_ALICE[] =
    "{\"datasets\":[{\"name\":\"citizens\",\"description\":\"People\",\"purposes\":["
    "{\"purpose\":\"benefit_eligibility\",\"operations\":[\"get\",\"query\"],"
    "\"requires\":[\"on_behalf_of\",\"case\"],\"fields\":{\"nir\":\"pseudonymize\","
    "\"iban\":\"tokenize\",\"name\":\"redact\",\"birth_date\":\"generalize\"},"
    "\"obligations\":[\"delete_after_case_closed\"]}]}]}";
static const char VIEW_CAROL[] = /* explain-only: a purpose without record operations */
    "{\"datasets\":[{\"name\":\"citizens\",\"description\":null,\"purposes\":["
    "{\"purpose\":\"statistics\",\"operations\":[],\"requires\":[],\"fields\":{},"
    "\"obligations\":[]}]}]}";

static enum ecl_status
fake_view(void *ctx, const char *agent, json_t **out)
{
    const char *text = "{\"datasets\":[]}";

    (void)ctx;
    if (strcmp(agent, "alice") == 0) {
        text = VIEW_ALICE;
    } else if (strcmp(agent, "carol") == 0) {
        text = VIEW_CAROL;
    } else if (strcmp(agent, "broken") == 0) {
        text = "{\"datasets\":[{\"name\":1}]}";
    } else if (strcmp(agent, "sealed") == 0) {
        return ECL_ERR_SEALED;
    }
    *out = json_loads(text, 0, NULL);
    return *out != NULL ? ECL_OK : ECL_ERR_NOMEM;
}

static json_t *
meta(int record)
{
    json_t *m = json_pack("{s:i,s:s,s:i}", "policy_version", 3, "policy_hash", "sha256:ab12",
                          "audit_seq", atomic_fetch_add(&F.seq, 1));
    if (record) {
        json_object_set_new(m, "rule_id", json_string("r-benefits"));
        json_object_set_new(m, "fields",
                            json_pack("{s:s,s:s,s:s}", "nir", "pseudonymize", "iban", "tokenize",
                                      "name", "redact"));
        json_object_set_new(m, "obligations", json_pack("[s]", "delete_after_case_closed"));
    }
    return m;
}

static json_t *
record(void)
{
    return json_pack("{s:s,s:s,s:n,s:s,s:i}", "nir", "ps_Zm9vYmFy", "iban", "tk_c2VjcmV0", "name",
                     "birth_date", "1985", "children", 2);
}

static void
refuse(struct ecl_mcp_reply *r, const char *code)
{
    r->kind = ECL_MCP_REPLY_REFUSED;
    r->code = code;
    r->message = "The policy does not allow this.";
    r->has_audit_seq = 1;
    r->audit_seq = (uint64_t)atomic_fetch_add(&F.seq, 1);
}

/* The decision of the test policy: alice may use citizens for benefit_eligibility with an
 * official and a case; everybody may list and explain (possibly nothing). */
static void
decide(const struct ecl_mcp_call_args *a, struct ecl_mcp_reply *r)
{
    int alice = strcmp(a->agent, "alice") == 0;
    json_t *data;

    memset(r, 0, sizeof *r);
    if (F.fail) {
        r->kind = ECL_MCP_REPLY_FAILED;
        r->status = ECL_ERR_SEALED;
        return;
    }
    if (F.bad_code) {
        refuse(r, "Not A Code");
        return;
    }
    switch (a->tool) {
    case ECL_MCP_TOOL_LIST_DATASETS:
        data = alice ? json_loads(VIEW_ALICE, 0, NULL) : json_pack("{s:[]}", "datasets");
        r->result =
            json_pack("{s:O,s:o}", "data", json_object_get(data, "datasets"), "meta", meta(0));
        json_decref(data);
        break;
    case ECL_MCP_TOOL_DESCRIBE_DATASET:
        if (!alice || strcmp(a->dataset, "citizens") != 0) {
            refuse(r, "dataset_not_found");
            return;
        }
        r->result =
            json_pack("{s:{s:s,s:n,s:s,s:[{s:s,s:s,s:s}],s:[]},s:o}", "data", "name", "citizens",
                      "description", "subject_field", "nir", "fields", "name", "nir", "type",
                      "string", "classification", "identifier", "purposes", "meta", meta(0));
        break;
    case ECL_MCP_TOOL_GET_RECORD:
    case ECL_MCP_TOOL_QUERY_RECORDS:
        if (!alice || strcmp(a->purpose, "benefit_eligibility") != 0) {
            refuse(r, "purpose_not_allowed");
            return;
        }
        if (a->on_behalf_of == NULL || a->case_ref == NULL) {
            refuse(r, "on_behalf_of_required");
            return;
        }
        if (a->tool == ECL_MCP_TOOL_GET_RECORD) {
            if ((a->id == NULL) == (a->pseudonym == NULL)) {
                r->kind = ECL_MCP_REPLY_FAILED; /* the MCP layer guarantees exactly one */
                r->status = ECL_ERR_INTERNAL;
                return;
            }
            r->result = json_pack("{s:o,s:o}", "data", record(), "meta", meta(1));
        } else {
            json_t *m = meta(1);
            json_object_set_new(m, "next_cursor",
                                a->cursor == NULL ? json_string("c2") : json_null());
            r->result = json_pack("{s:[o,o],s:o}", "data", record(), record(), "meta", m);
        }
        break;
    case ECL_MCP_TOOL_EXPLAIN_ACCESS:
        r->result = json_pack("{s:{s:s,s:[]},s:o}", "data", "purpose", a->purpose, "datasets",
                              "meta", meta(0));
        if (alice && strcmp(a->purpose, "benefit_eligibility") == 0) {
            json_array_append_new(json_object_get(json_object_get(r->result, "data"), "datasets"),
                                  json_pack("{s:s,s:s,s:[s],s:[],s:{s:s},s:[]}", "dataset",
                                            "citizens", "rule_id", "r-benefits", "operations",
                                            "get", "requires", "fields", "nir", "pseudonymize",
                                            "obligations"));
        }
        break;
    }
    if (F.bad_output) {
        json_object_del(json_object_get(r->result, "meta"), "audit_seq");
    }
    r->kind = ECL_MCP_REPLY_OK;
}

static void *
complete_later(void *arg)
{
    struct ecl_mcp_call *call = arg;
    struct ecl_mcp_reply r;
    struct timespec ts = {0, 2 * 1000 * 1000};

    nanosleep(&ts, NULL);
    decide(ecl_mcp_call_args(call), &r);
    ecl_mcp_call_done(call, &r);
    return NULL;
}

static void
fake_call(void *ctx, struct ecl_mcp_call *call)
{
    struct ecl_mcp_reply r;

    (void)ctx;
    atomic_fetch_add(&F.calls, 1);
    if (F.async) {
        int i = atomic_fetch_add(&F.nthreads, 1);
        assert_true(i < MAX_THREADS);
        assert_int_equal(pthread_create(&F.threads[i], NULL, complete_later, call), 0);
        return;
    }
    decide(ecl_mcp_call_args(call), &r);
    ecl_mcp_call_done(call, &r);
}

static const struct ecl_mcp_backend BACKEND = {fake_view, fake_call};

/* ---- clock and randomness under test control ---------------------------------------------- */

static atomic_uint_least64_t NOW = 1000000;

static uint64_t
fake_now(void)
{
    return atomic_load(&NOW);
}

/* ---- helpers ------------------------------------------------------------------------------ */

struct resp {
    unsigned status;
    char session[ECL_MCP_SESSION_ID_LEN + 1];
    const char *content_type;
    const char *allow;
    json_t *body; /* NULL when empty */
};

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int called;
};

static void
on_done(void *arg, struct ecl_mcp_http_out *out)
{
    struct waiter *w = arg;

    (void)out;
    pthread_mutex_lock(&w->mu);
    w->called++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static struct ecl_mcp *
new_mcp(const char *const *origins, size_t norigins, size_t max_sessions)
{
    struct ecl_mcp_config cfg = {0};
    struct ecl_mcp *m = NULL;

    cfg.backend = &BACKEND;
    cfg.allowed_origins = origins;
    cfg.n_allowed_origins = norigins;
    cfg.max_sessions = max_sessions;
    cfg.session_idle_ms = 60000;
    cfg.now_ms = fake_now;
    cfg.server_version = "0.1.0";
    assert_int_equal(ecl_mcp_new(&cfg, &m), ECL_OK);
    return m;
}

static void
reset_fake(void)
{
    for (int i = 0; i < atomic_load(&F.nthreads); i++) {
        pthread_join(F.threads[i], NULL);
    }
    F.async = F.fail = F.bad_output = F.bad_code = 0;
    atomic_store(&F.calls, 0);
    atomic_store(&F.nthreads, 0);
}

/* One HTTP exchange; waits for an asynchronous completion.  *outcome gets the outcome. */
static struct resp
exchange(struct ecl_mcp *m, struct ecl_mcp_http_in *in, enum ecl_mcp_outcome *outcome)
{
    struct ecl_mcp_http_out out;
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct resp r;
    enum ecl_mcp_outcome oc;

    memset(&r, 0, sizeof r);
    ecl_mcp_http_out_init(&out);
    oc = ecl_mcp_handle(m, in, &out, on_done, &w);
    pthread_mutex_lock(&w.mu);
    if (oc == ECL_MCP_PENDING) {
        while (w.called == 0) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        assert_int_equal(w.called, 1);
    } else {
        assert_int_equal(w.called, 0); /* DONE: done is never called */
    }
    pthread_mutex_unlock(&w.mu);
    if (outcome != NULL) {
        *outcome = oc;
    }
    r.status = out.status;
    memcpy(r.session, out.session_id, sizeof r.session);
    r.content_type = out.content_type;
    r.allow = out.allow;
    if (out.body.len > 0) {
        assert_string_equal(out.content_type, "application/json");
        r.body = json_loadb((const char *)out.body.ptr, out.body.len, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(r.body);
    } else {
        assert_null(out.content_type);
    }
    ecl_mcp_http_out_free(&out);
    return r;
}

static struct ecl_mcp_http_in
post_in(const char *agent, const char *session, const char *version, const char *body)
{
    struct ecl_mcp_http_in in;

    memset(&in, 0, sizeof in);
    in.method = ECL_MCP_POST;
    in.agent = agent;
    in.session_id = session;
    in.protocol_version = version;
    in.accept = "application/json, text/event-stream";
    in.content_type = "application/json";
    in.body = (const uint8_t *)body;
    in.body_len = body != NULL ? strlen(body) : 0;
    return in;
}

static struct resp
post(struct ecl_mcp *m, const char *agent, const char *session, const char *version,
     const char *body)
{
    struct ecl_mcp_http_in in = post_in(agent, session, version, body);
    return exchange(m, &in, NULL);
}

static void
resp_free(struct resp *r)
{
    json_decref(r->body);
    r->body = NULL;
}

/* Opens a session for agent with version; returns its id (static per call site copy). */
static void
open_session(struct ecl_mcp *m, const char *agent, const char *version, char *sid)
{
    char body[256];
    struct resp r;

    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
             "\"version\":\"1\"}}}",
             version);
    r = post(m, agent, NULL, NULL, body);
    assert_int_equal(r.status, 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.body, "result"), "protocolVersion")),
        version);
    assert_int_equal(strlen(r.session), ECL_MCP_SESSION_ID_LEN);
    memcpy(sid, r.session, ECL_MCP_SESSION_ID_LEN + 1);
    resp_free(&r);
    r = post(m, agent, sid, version,
             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(r.status, 202);
    assert_null(r.body);
}

static long
error_code(const struct resp *r)
{
    return (long)json_integer_value(json_object_get(json_object_get(r->body, "error"), "code"));
}

static const json_t *
result_of(const struct resp *r)
{
    const json_t *res = json_object_get(r->body, "result");
    assert_non_null(res);
    return res;
}

static struct resp
call_tool(struct ecl_mcp *m, const char *agent, const char *sid, const char *name,
          const char *args_json)
{
    char body[2048];

    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":\"c-7\",\"method\":\"tools/call\",\"params\":{"
             "\"name\":\"%s\",\"arguments\":%s}}",
             name, args_json);
    return post(m, agent, sid, "2025-11-25", body);
}

static const json_t *
tool_def(struct ecl_mcp *m, const char *name)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(ecl_mcp_tools(m), "tools"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
            return t;
        }
    }
    fail_msg("no tool %s", name);
    return NULL;
}

/* A tool result as MCP requires: a text item, structuredContent matching outputSchema. */
static const json_t *
check_tool_result(struct ecl_mcp *m, const struct resp *r, const char *tool, int is_error)
{
    const json_t *res = result_of(r);
    const json_t *content = json_object_get(res, "content");
    const json_t *sc = json_object_get(res, "structuredContent");
    const char *where = NULL;

    assert_int_equal(r->status, 200);
    assert_true(json_is_boolean(json_object_get(res, "isError")));
    assert_int_equal(json_is_true(json_object_get(res, "isError")), is_error);
    assert_int_equal(json_array_size(content), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "type")),
                        "text");
    assert_true(json_string_length(json_object_get(json_array_get(content, 0), "text")) > 0);
    assert_non_null(sc);
    assert_true(jschema_valid(json_object_get(tool_def(m, tool), "outputSchema"), sc, &where));
    assert_true(is_error ? json_object_get(sc, "error") != NULL
                         : json_object_get(sc, "data") != NULL);
    return sc;
}

static const char *
text_of(const struct resp *r)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(result_of(r), "content"), 0), "text"));
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void
test_initialize_versions(void **state)
{
    static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[3][ECL_MCP_SESSION_ID_LEN + 1];
    struct resp r;

    (void)state;
    for (int i = 0; i < 3; i++) {
        open_session(m, "alice", versions[i], sid[i]);
        for (size_t k = 0; k < ECL_MCP_SESSION_ID_LEN; k++) {
            assert_true(sid[i][k] >= 0x21 && sid[i][k] <= 0x7E); /* visible ASCII */
        }
    }
    assert_string_not_equal(sid[0], sid[1]);
    assert_string_not_equal(sid[1], sid[2]);
    assert_int_equal(ecl_mcp_session_count(m), 3);
    /* The result: capabilities.tools, serverInfo, instructions naming pseudonyms. */
    r = post(m, "alice", NULL, NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    assert_int_equal(json_integer_value(json_object_get(r.body, "id")), 9);
    assert_non_null(json_object_get(json_object_get(result_of(&r), "capabilities"), "tools"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(result_of(&r), "serverInfo"), "name")),
        "ecluse");
    assert_non_null(
        strstr(json_string_value(json_object_get(result_of(&r), "instructions")), "ps_"));
    resp_free(&r);
    /* A missing header means 2025-03-26: fine for a 2025-03-26 session only. */
    r = post(m, "alice", sid[2], NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(r.status, 200);
    assert_true(json_is_object(result_of(&r)) && json_object_size(result_of(&r)) == 0);
    resp_free(&r);
    r = post(m, "alice", sid[0], NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(r.status, 400);
    resp_free(&r);
    ecl_mcp_free(m);
}

static void
test_initialize_refusals(void **state)
{
    static const char *const bad[] = {"2024-11-05", "2026-01-01", "1.0", ""};
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char body[256];
    struct resp r;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const json_t *data;
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\",\"capabilities\":{}}}",
                 bad[i]);
        r = post(m, "alice", NULL, NULL, body);
        assert_int_equal(r.status, 200);
        assert_int_equal(error_code(&r), -32602);
        assert_string_equal(r.session, "");
        data = json_object_get(json_object_get(r.body, "error"), "data");
        assert_int_equal(json_array_size(json_object_get(data, "supported")), 3);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(data, "supported"), 0)), "2025-11-25");
        assert_string_equal(json_string_value(json_object_get(data, "requested")), bad[i]);
        resp_free(&r);
    }
    /* No params, a number for the version. */
    r = post(m, "alice", NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}");
    assert_int_equal(error_code(&r), -32602);
    resp_free(&r);
    r = post(m, "alice", NULL, NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":20251125}}");
    assert_int_equal(error_code(&r), -32602);
    resp_free(&r);
    /* initialize inside a session is refused */
    r = post(m, "alice", "00000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-11-25\"}}");
    assert_int_equal(r.status, 400);
    assert_int_equal(error_code(&r), -32600);
    resp_free(&r);
    assert_int_equal(ecl_mcp_session_count(m), 0);
    ecl_mcp_free(m);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void
test_sessions(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    char forged[ECL_MCP_SESSION_ID_LEN + 1];
    struct ecl_mcp_http_in in;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    struct resp r;

    (void)state;
    open_session(m, "alice", "2025-11-25", sid);
    /* missing: 400; unknown or malformed: 404 */
    r = post(m, "alice", NULL, "2025-11-25", ping);
    assert_int_equal(r.status, 400);
    assert_true(json_is_null(json_object_get(r.body, "id")));
    resp_free(&r);
    memcpy(forged, sid, sizeof forged);
    forged[ECL_MCP_SESSION_ID_LEN - 1] = forged[ECL_MCP_SESSION_ID_LEN - 1] == '0' ? '1' : '0';
    const char *unknown[] = {forged,
                             "",
                             "zz",
                             "00000000",
                             "ffffffffaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                             "00000000AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        r = post(m, "alice", unknown[i], "2025-11-25", ping);
        assert_int_equal(r.status, 404);
        assert_int_equal(error_code(&r), -32001);
        resp_free(&r);
    }
    /* A session is bound to its agent: for anybody else it does not exist. */
    r = post(m, "bob", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = post(m, "alice", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* DELETE by another agent does nothing; by the owner ends it; twice is 404. */
    memset(&in, 0, sizeof in);
    in.method = ECL_MCP_DELETE;
    in.agent = "bob";
    in.session_id = sid;
    in.protocol_version = "2025-11-25";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    in.agent = "alice";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 204);
    assert_null(r.body);
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    in.session_id = NULL;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = post(m, "alice", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* Idle expiry: just under the limit it lives (and is refreshed), just over it ends. */
    open_session(m, "alice", "2025-11-25", sid);
    atomic_fetch_add(&NOW, 60000);
    r = post(m, "alice", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    atomic_fetch_add(&NOW, 60001);
    r = post(m, "alice", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_int_equal(ecl_mcp_session_count(m), 0);
    ecl_mcp_free(m);
}

static void
test_session_limits(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 3);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    char first[ECL_MCP_SESSION_ID_LEN + 1];
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"2025-11-25\"}}";
    struct resp r;

    (void)state;
    /* Table of 3: max-1, max, then max+1 is refused with 503 and no session. */
    open_session(m, "a1", "2025-11-25", sid);
    open_session(m, "a2", "2025-11-25", sid);
    open_session(m, "a3", "2025-11-25", sid);
    r = post(m, "a4", NULL, NULL, init);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.session, "");
    resp_free(&r);
    /* Ending one frees its slot. */
    struct ecl_mcp_http_in del = {0};
    del.method = ECL_MCP_DELETE;
    del.agent = "a3";
    del.session_id = sid;
    del.protocol_version = "2025-11-25";
    r = exchange(m, &del, NULL);
    assert_int_equal(r.status, 204);
    open_session(m, "a4", "2025-11-25", sid);
    ecl_mcp_free(m);

    /* Per agent: the agent that opens one too many loses its own idlest session. */
    m = new_mcp(NULL, 0, 0);
    open_session(m, "alice", "2025-11-25", first);
    for (int i = 1; i < ECL_MCP_MAX_SESSIONS_PER_AGENT; i++) {
        atomic_fetch_add(&NOW, 1);
        open_session(m, "alice", "2025-11-25", sid);
    }
    open_session(m, "bob", "2025-11-25", sid);
    assert_int_equal(ecl_mcp_session_count(m), ECL_MCP_MAX_SESSIONS_PER_AGENT + 1);
    atomic_fetch_add(&NOW, 1);
    open_session(m, "alice", "2025-11-25", sid);
    assert_int_equal(ecl_mcp_session_count(m), ECL_MCP_MAX_SESSIONS_PER_AGENT + 1);
    r = post(m, "alice", first, "2025-11-25", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    ecl_mcp_free(m);
}

/* ---- transport ---------------------------------------------------------------------------- */

static void
test_protocol_version_header(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    char longv[ECL_MCP_HEADER_MAX_LEN + 2];
    struct resp r;

    (void)state;
    open_session(m, "alice", "2025-11-25", sid);
    const char *bad[] = {"2025-06-18", "2025-03-26", "2024-11-05", "junk", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = post(m, "alice", sid, bad[i], ping);
        assert_int_equal(r.status, 400);
        resp_free(&r);
    }
    /* An unsupported header is refused even on initialize. */
    r = post(m, "alice", NULL, "1999-01-01",
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-11-25\"}}");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.session, "");
    resp_free(&r);
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    r = post(m, "alice", longv, "2025-11-25", ping);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = post(m, "alice", sid, "2025-11-25", ping);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    ecl_mcp_free(m);
}

static void
test_origin(void **state)
{
    static const char *const ok[] = {"http://localhost", "http://localhost:8080",
                                     "https://127.0.0.1", "https://127.0.0.1:443",
                                     "http://[::1]:3000"};
    static const char *const bad[] = {"http://evil.example",     "http://localhost.evil.example",
                                      "http://127.0.0.1.nip.io", "null",
                                      "http://localhost:",       "http://localhost:80a",
                                      "ftp://localhost",         "http://localhost:123456",
                                      "http://LOCALHOST@evil",   "https://console.example.org"};
    static const char *const configured[] = {"https://console.example.org"};
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    struct ecl_mcp_http_in in = post_in("alice", NULL, NULL,
                                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                                        "\"params\":{\"protocolVersion\":\"2025-11-25\"}}");
    struct resp r;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        in.origin = ok[i];
        r = exchange(m, &in, NULL);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        in.origin = bad[i];
        r = exchange(m, &in, NULL);
        assert_int_equal(r.status, 403);
        assert_string_equal(r.session, "");
        assert_true(json_is_null(json_object_get(r.body, "id")));
        resp_free(&r);
    }
    ecl_mcp_free(m);
    /* A configured list replaces the loopback default and matches exactly. */
    m = new_mcp(configured, 1, 0);
    in.origin = "https://console.example.org";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    in.origin = "http://localhost";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    in.origin = "https://console.example.org.evil";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    in.origin = NULL; /* a non-browser client sends none */
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    ecl_mcp_free(m);
}

static void
test_http_rules(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    struct ecl_mcp_http_in in;
    struct resp r;
    char *big;

    (void)state;
    open_session(m, "alice", "2025-11-25", sid);
    in = post_in("alice", sid, "2025-11-25", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    /* GET (no SSE stream offered) and other methods: 405 with Allow */
    in.method = ECL_MCP_GET;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST, DELETE");
    resp_free(&r);
    in.method = ECL_MCP_OTHER;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    in.method = ECL_MCP_POST;
    /* No authenticated agent: 401 (the HTTP layer normally stops it first) */
    in.agent = NULL;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    in.agent = "";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    in.agent = "alice";
    /* Media types */
    const char *bad_ct[] = {NULL, "text/plain", "application/jsonx", "application/json-seq", ""};
    for (size_t i = 0; i < sizeof bad_ct / sizeof bad_ct[0]; i++) {
        in.content_type = bad_ct[i];
        r = exchange(m, &in, NULL);
        assert_int_equal(r.status, 415);
        resp_free(&r);
    }
    in.content_type = "Application/JSON; charset=utf-8";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    in.accept = "text/html";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 406);
    resp_free(&r);
    in.accept = "text/event-stream";
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 406);
    resp_free(&r);
    const char *good_accept[] = {"*/*", "application/*", "text/event-stream;q=1, application/json",
                                 NULL};
    for (size_t i = 0; i < sizeof good_accept / sizeof good_accept[0]; i++) {
        in.accept = good_accept[i];
        r = exchange(m, &in, NULL);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    /* Body size: max accepted by the size rule (then fails to parse), max+1 refused */
    big = malloc(ECL_MCP_MAX_BODY_BYTES + 1);
    assert_non_null(big);
    memset(big, ' ', ECL_MCP_MAX_BODY_BYTES + 1);
    in.body = (const uint8_t *)big;
    in.body_len = ECL_MCP_MAX_BODY_BYTES;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 400);
    assert_int_equal(error_code(&r), -32700);
    resp_free(&r);
    in.body_len = ECL_MCP_MAX_BODY_BYTES + 1;
    r = exchange(m, &in, NULL);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    free(big);
    ecl_mcp_free(m);
}

static void
test_jsonrpc_errors(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    struct resp r;
    static const struct {
        const char *body;
        unsigned status;
        long code;
    } rows[] = {
        {"{", 400, -32700},
        {"", 400, -32700},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", 400, -32700}, /* dup */
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 400,
         -32700}, /* depth */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", 400, -32700},
        {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", 400, -32600}, /* batch */
        {"[]", 400, -32600},
        {"42", 400, -32700}, /* ecl_json_load takes an object or array only */
        {"{\"id\":1,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}", 200, -32601},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"no/such\"}", 200, -32601},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", 200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}",
         200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}", 200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}", 200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"rm\"}}",
         200, -32602}, /* unknown tool */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"list_datasets\",\"arguments\":[]}}",
         200, -32602},
    };

    (void)state;
    open_session(m, "alice", "2025-11-25", sid);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        r = post(m, "alice", sid, "2025-11-25", rows[i].body);
        if (r.status != rows[i].status || error_code(&r) != rows[i].code) {
            fail_msg("row %zu: status %u code %ld", i, r.status, error_code(&r));
        }
        assert_string_equal(json_string_value(json_object_get(r.body, "jsonrpc")), "2.0");
        resp_free(&r);
    }
    /* The id of a valid request comes back, string or integer. */
    r = post(m, "alice", sid, "2025-11-25",
             "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"nope\"}");
    assert_string_equal(json_string_value(json_object_get(r.body, "id")), "x");
    resp_free(&r);
    /* Notifications and responses: 202 without body, even unknown ones. */
    const char *accepted[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1,\"message\":\"m\"}}"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        r = post(m, "alice", sid, "2025-11-25", accepted[i]);
        assert_int_equal(r.status, 202);
        assert_null(r.body);
    }
    /* ... but not without a session */
    r = post(m, "alice", NULL, "2025-11-25", accepted[0]);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_int_equal(atomic_load(&F.calls), 0);
    ecl_mcp_free(m);
}

/* ---- tools -------------------------------------------------------------------------------- */

static void
test_tool_definitions(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    const json_t *tools = json_object_get(ecl_mcp_tools(m), "tools");
    size_t i;
    json_t *t;

    (void)state;
    assert_int_equal(json_array_size(tools), ECL_MCP_TOOL_COUNT);
    json_array_foreach(tools, i, t)
    {
        const json_t *in = json_object_get(t, "inputSchema");
        const json_t *out = json_object_get(t, "outputSchema");
        enum ecl_mcp_tool id;
        assert_string_equal(json_string_value(json_object_get(t, "name")),
                            ecl_mcp_tool_name((enum ecl_mcp_tool)i));
        assert_true(tools_find(NULL, ecl_mcp_tool_name((enum ecl_mcp_tool)i), &id));
        assert_int_equal(id, i);
        /* MCP: both schemas are JSON Schema objects of type object */
        assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
        assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
        assert_true(json_is_false(json_object_get(in, "additionalProperties")));
        assert_true(jschema_supported(in) && jschema_supported(out));
    }
    /* The validator refuses what it does not implement rather than ignore it. */
    json_t *s = json_loads("{\"type\":\"string\",\"pattern\":\"^ps_\"}", 0, NULL);
    assert_false(jschema_supported(s));
    json_decref(s);
    s = json_loads("{\"properties\":{\"a\":{\"$ref\":\"#/x\"}}}", 0, NULL);
    assert_false(jschema_supported(s));
    json_decref(s);
    ecl_mcp_free(m);
}

static void
test_validator(void **state)
{
    static const struct {
        const char *schema;
        const char *value;
        int valid;
    } rows[] = {
        {"{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}", "0", 0},
        {"{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}", "1", 1},
        {"{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}", "3", 1},
        {"{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}", "4", 0},
        {"{\"type\":\"integer\"}", "1.5", 0},
        {"{\"type\":[\"string\",\"null\"]}", "null", 1},
        {"{\"type\":[\"string\",\"null\"]}", "true", 0},
        {"{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"é\"", 0},
        {"{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"éé\"", 1},
        {"{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"éééé\"", 0},
        {"{\"enum\":[\"a\",\"b\"]}", "\"c\"", 0},
        {"{\"type\":\"array\",\"maxItems\":1,\"items\":{\"type\":\"string\"}}", "[\"a\"]", 1},
        {"{\"type\":\"array\",\"maxItems\":1,\"items\":{\"type\":\"string\"}}", "[\"a\",\"b\"]", 0},
        {"{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "[1]", 0},
        {"{\"type\":\"object\",\"required\":[\"a\"]}", "{}", 0},
        {"{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}", "{\"x\":1}", 0},
        {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}", "{\"x\":1}", 0},
        {"{\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}", "{\"a\":1}", 1},
        {"{\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}", "{\"a\":1,\"b\":1}", 0},
        {"{\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}", "{}", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *s = json_loads(rows[i].schema, 0, NULL);
        json_t *v = json_loads(rows[i].value, JSON_DECODE_ANY, NULL);
        assert_non_null(s);
        assert_non_null(v);
        assert_true(jschema_supported(s));
        if (jschema_valid(s, v, NULL) != rows[i].valid) {
            fail_msg("row %zu", i);
        }
        json_decref(s);
        json_decref(v);
    }
}

static void
test_tools_list(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    const char *list = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    const json_t *tools;
    const char *desc;
    struct resp r;

    (void)state;
    /* alice: every tool; the record tools tell which values are pseudonyms and tokens and
     * which obligations apply. */
    open_session(m, "alice", "2025-11-25", sid);
    r = post(m, "alice", sid, "2025-11-25", list);
    tools = json_object_get(result_of(&r), "tools");
    assert_int_equal(json_array_size(tools), 5);
    assert_null(json_object_get(result_of(&r), "nextCursor"));
    for (size_t i = 0; i < 5; i++) {
        const json_t *t = json_array_get(tools, i);
        assert_non_null(json_object_get(t, "inputSchema"));
        assert_non_null(json_object_get(t, "outputSchema"));
    }
    desc = json_string_value(json_object_get(json_array_get(tools, 2), "description"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 2), "name")),
                        "get_record");
    assert_non_null(strstr(desc, "pseudonyms (ps_...): nir"));
    assert_non_null(strstr(desc, "tokens (tk_...): iban"));
    assert_non_null(strstr(desc, "redacted (null): name"));
    assert_non_null(strstr(desc, "requires on_behalf_of and case"));
    assert_non_null(strstr(desc, "obligations: delete_after_case_closed"));
    resp_free(&r);
    /* bob has no dataset: only the tools that show him his own policy */
    open_session(m, "bob", "2025-11-25", sid);
    r = post(m, "bob", sid, "2025-11-25", list);
    tools = json_object_get(result_of(&r), "tools");
    assert_int_equal(json_array_size(tools), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "list_datasets");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")),
                        "explain_access");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_array_get(tools, 0), "description")), "no dataset"));
    resp_free(&r);
    /* carol: a dataset without record operations: describe, but no get or query */
    open_session(m, "carol", "2025-11-25", sid);
    r = post(m, "carol", sid, "2025-11-25", list);
    tools = json_object_get(result_of(&r), "tools");
    assert_int_equal(json_array_size(tools), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")),
                        "describe_dataset");
    resp_free(&r);
    /* A view that breaks the contract fails closed; a sealed gateway answers 503. */
    open_session(m, "broken", "2025-11-25", sid);
    r = post(m, "broken", sid, "2025-11-25", list);
    assert_int_equal(r.status, 500);
    assert_int_equal(error_code(&r), -32603);
    resp_free(&r);
    open_session(m, "sealed", "2025-11-25", sid);
    r = post(m, "sealed", sid, "2025-11-25", list);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    ecl_mcp_free(m);
}

static const char GET_ARGS[] =
    "{\"dataset\":\"citizens\",\"purpose\":\"benefit_eligibility\",\"id\":\"" RECORD_NIR "\","
    "\"on_behalf_of\":\"agent-314\",\"case\":\"CASE-2024-001\"}";
static const char QUERY_ARGS[] =
    "{\"dataset\":\"citizens\",\"purpose\":\"benefit_eligibility\",\"where\":{\"postcode\":"
    "\"75011\"},\"fields\":[\"nir\"],\"limit\":2,\"on_behalf_of\":\"agent-314\",\"case\":\"C1\"}";

/* Every tool where allowed, for both completions. */
static void
run_allowed_calls(struct ecl_mcp *m, const char *sid)
{
    const json_t *sc;
    struct resp r;

    r = call_tool(m, "alice", sid, "list_datasets", "{}");
    sc = check_tool_result(m, &r, "list_datasets", 0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(sc, "data"), 0), "name")),
        "citizens");
    assert_string_equal(json_string_value(json_object_get(r.body, "id")), "c-7");
    resp_free(&r);

    r = call_tool(m, "alice", sid, "describe_dataset", "{\"dataset\":\"citizens\"}");
    check_tool_result(m, &r, "describe_dataset", 0);
    resp_free(&r);

    r = call_tool(m, "alice", sid, "get_record", GET_ARGS);
    sc = check_tool_result(m, &r, "get_record", 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(sc, "data"), "nir")),
                        "ps_Zm9vYmFy");
    assert_string_equal(json_string_value(json_object_get(json_object_get(sc, "meta"), "rule_id")),
                        "r-benefits");
    assert_true(json_is_integer(json_object_get(json_object_get(sc, "meta"), "audit_seq")));
    assert_non_null(strstr(text_of(&r), "Obligations: delete_after_case_closed."));
    assert_non_null(strstr(text_of(&r), "\"nir\":\"ps_Zm9vYmFy\"")); /* serialized JSON too */
    resp_free(&r);

    r = call_tool(m, "alice", sid, "get_record",
                  "{\"dataset\":\"citizens\",\"purpose\":\"benefit_eligibility\",\"pseudonym\":"
                  "\"ps_Zm9vYmFy\",\"on_behalf_of\":\"a\",\"case\":\"c\"}");
    check_tool_result(m, &r, "get_record", 0);
    resp_free(&r);

    r = call_tool(m, "alice", sid, "query_records", QUERY_ARGS);
    sc = check_tool_result(m, &r, "query_records", 0);
    assert_int_equal(json_array_size(json_object_get(sc, "data")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sc, "meta"), "next_cursor")), "c2");
    assert_non_null(strstr(text_of(&r), "more pages"));
    resp_free(&r);

    r = call_tool(m, "alice", sid, "explain_access", "{\"purpose\":\"benefit_eligibility\"}");
    sc = check_tool_result(m, &r, "explain_access", 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(sc, "data"), "datasets")), 1);
    resp_free(&r);
}

/* Every tool where refused: bob has no right at all. */
static void
run_refused_calls(struct ecl_mcp *m, const char *sid)
{
    static const struct {
        const char *tool;
        const char *args;
        const char *code;
    } rows[] = {
        {"describe_dataset", "{\"dataset\":\"citizens\"}", "dataset_not_found"},
        {"get_record", GET_ARGS, "purpose_not_allowed"},
        {"query_records", QUERY_ARGS, "purpose_not_allowed"},
    };
    struct resp r;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const json_t *err;
        r = call_tool(m, "bob", sid, rows[i].tool, rows[i].args);
        err = json_object_get(check_tool_result(m, &r, rows[i].tool, 1), "error");
        assert_string_equal(json_string_value(json_object_get(err, "code")), rows[i].code);
        assert_true(json_is_integer(json_object_get(err, "audit_seq")));
        assert_non_null(strstr(text_of(&r), rows[i].code));
        char *dump = json_dumps(r.body, 0);
        assert_non_null(dump);
        assert_null(strstr(dump, "ps_Zm9vYmFy")); /* a refusal discloses nothing */
        free(dump);
        resp_free(&r);
    }
    /* list and explain answer with nothing rather than refuse */
    r = call_tool(m, "bob", sid, "list_datasets", "{}");
    assert_int_equal(
        json_array_size(json_object_get(check_tool_result(m, &r, "list_datasets", 0), "data")), 0);
    resp_free(&r);
    r = call_tool(m, "bob", sid, "explain_access", "{\"purpose\":\"benefit_eligibility\"}");
    check_tool_result(m, &r, "explain_access", 0);
    resp_free(&r);
}

static void
test_tools_call_sync(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char a[ECL_MCP_SESSION_ID_LEN + 1];
    char b[ECL_MCP_SESSION_ID_LEN + 1];

    (void)state;
    reset_fake();
    open_session(m, "alice", "2025-11-25", a);
    open_session(m, "bob", "2025-11-25", b);
    run_allowed_calls(m, a);
    run_refused_calls(m, b);
    assert_int_equal(atomic_load(&F.calls), 11);
    ecl_mcp_free(m);
}

static void
test_tools_call_async(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char a[ECL_MCP_SESSION_ID_LEN + 1];
    char b[ECL_MCP_SESSION_ID_LEN + 1];
    struct ecl_mcp_http_in in;
    enum ecl_mcp_outcome oc = ECL_MCP_DONE;
    struct resp r;

    (void)state;
    reset_fake();
    open_session(m, "alice", "2025-11-25", a);
    open_session(m, "bob", "2025-11-25", b);
    F.async = 1;
    run_allowed_calls(m, a);
    run_refused_calls(m, b);
    /* The completion came from another thread after ecl_mcp_handle returned PENDING. */
    in = post_in("alice", a, "2025-11-25",
                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"list_datasets\"}}");
    r = exchange(m, &in, &oc);
    assert_int_equal(oc, ECL_MCP_PENDING);
    check_tool_result(m, &r, "list_datasets", 0);
    resp_free(&r);
    assert_int_equal(ecl_mcp_pending(m), 0); /* released before done ran */
    reset_fake();
    r = exchange(m, &in, &oc);
    assert_int_equal(oc, ECL_MCP_DONE);
    resp_free(&r);
    ecl_mcp_free(m);
}

static void
test_tool_argument_errors(void **state)
{
    static const struct {
        const char *tool;
        const char *args;
    } rows[] = {
        {"list_datasets", "{\"x\":1}"},
        {"describe_dataset", "{}"},
        {"describe_dataset", "{\"dataset\":\"\"}"},
        {"describe_dataset", "{\"dataset\":7}"},
        {"get_record", "{\"dataset\":\"citizens\",\"purpose\":\"p\"}"}, /* neither id nor ps */
        {"get_record", "{\"dataset\":\"citizens\",\"purpose\":\"p\",\"id\":\"1\","
                       "\"pseudonym\":\"ps_x1\"}"}, /* both */
        {"get_record", "{\"purpose\":\"p\",\"id\":\"1\"}"},
        {"query_records", "{\"dataset\":\"c\",\"purpose\":\"p\",\"limit\":0}"},
        {"query_records", "{\"dataset\":\"c\",\"purpose\":\"p\",\"limit\":1001}"},
        {"query_records", "{\"dataset\":\"c\",\"purpose\":\"p\",\"limit\":\"5\"}"},
        {"query_records", "{\"dataset\":\"c\",\"purpose\":\"p\",\"where\":[]}"},
        {"query_records", "{\"dataset\":\"c\",\"purpose\":\"p\",\"fields\":[1]}"},
        {"explain_access", "{}"},
    };
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    struct resp r;

    (void)state;
    reset_fake();
    open_session(m, "alice", "2025-11-25", sid);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const json_t *err;
        r = call_tool(m, "alice", sid, rows[i].tool, rows[i].args);
        err = json_object_get(check_tool_result(m, &r, rows[i].tool, 1), "error");
        if (strcmp(json_string_value(json_object_get(err, "code")), "invalid_argument") != 0) {
            fail_msg("row %zu", i);
        }
        assert_null(json_object_get(err, "audit_seq"));
        resp_free(&r);
    }
    /* limit boundaries 1 and 1000 are accepted */
    r = call_tool(m, "alice", sid, "query_records",
                  "{\"dataset\":\"citizens\",\"purpose\":\"benefit_eligibility\",\"limit\":1000,"
                  "\"on_behalf_of\":\"a\",\"case\":\"c\"}");
    check_tool_result(m, &r, "query_records", 0);
    resp_free(&r);
    assert_int_equal(atomic_load(&F.calls), 1); /* invalid arguments never reach the backend */
    ecl_mcp_free(m);
}

static void
test_backend_failures(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 0);
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    struct resp r;

    (void)state;
    open_session(m, "alice", "2025-11-25", sid);
    for (int async = 0; async <= 1; async++) {
        reset_fake();
        F.async = async;
        /* A sealed gateway: 503, a JSON-RPC error, no result */
        F.fail = 1;
        r = call_tool(m, "alice", sid, "get_record", GET_ARGS);
        assert_int_equal(r.status, 503);
        assert_int_equal(error_code(&r), -32004);
        assert_null(json_object_get(r.body, "result"));
        resp_free(&r);
        F.fail = 0;
        /* A result that breaks the outputSchema is not sent (fail closed) */
        F.bad_output = 1;
        r = call_tool(m, "alice", sid, "get_record", GET_ARGS);
        assert_int_equal(r.status, 500);
        assert_int_equal(error_code(&r), -32603);
        char *dump = json_dumps(r.body, 0);
        assert_null(strstr(dump, "ps_Zm9vYmFy"));
        assert_null(strstr(dump, "tk_c2VjcmV0"));
        free(dump);
        resp_free(&r);
        F.bad_output = 0;
        /* A malformed reason code from the backend is an internal error */
        F.bad_code = 1;
        r = call_tool(m, "alice", sid, "get_record", GET_ARGS);
        assert_int_equal(r.status, 500);
        resp_free(&r);
    }
    reset_fake();
    ecl_mcp_free(m);
}

/* ---- concurrency -------------------------------------------------------------------------- */

struct worker {
    struct ecl_mcp *m;
    char agent[16];
    int failures;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    char sid[ECL_MCP_SESSION_ID_LEN + 1];
    struct ecl_mcp_http_in del;

    for (int i = 0; i < 100; i++) {
        struct resp r;
        open_session(w->m, w->agent, "2025-11-25", sid);
        r = post(w->m, w->agent, sid, "2025-11-25",
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"list_datasets\"}}");
        w->failures += r.status != 200;
        resp_free(&r);
        memset(&del, 0, sizeof del);
        del.method = ECL_MCP_DELETE;
        del.agent = w->agent;
        del.session_id = sid;
        del.protocol_version = "2025-11-25";
        r = exchange(w->m, &del, NULL);
        w->failures += r.status != 204;
    }
    return NULL;
}

static void
test_concurrency(void **state)
{
    struct ecl_mcp *m = new_mcp(NULL, 0, 8);
    struct worker w[4];
    pthread_t t[4];

    (void)state;
    reset_fake();
    for (int i = 0; i < 4; i++) {
        w[i].m = m;
        w[i].failures = 0;
        snprintf(w[i].agent, sizeof w[i].agent, "agent%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(ecl_mcp_session_count(m), 0);
    ecl_mcp_free(m);
}

static void
test_config(void **state)
{
    struct ecl_mcp_config cfg = {0};
    struct ecl_mcp *m = NULL;
    const char *origins[ECL_MCP_MAX_ORIGINS + 1];
    char long_origin[ECL_MCP_ORIGIN_MAX_LEN + 2];

    (void)state;
    assert_int_equal(ecl_mcp_new(&cfg, &m), ECL_ERR_INVALID); /* no backend */
    cfg.backend = &BACKEND;
    for (size_t i = 0; i <= ECL_MCP_MAX_ORIGINS; i++) {
        origins[i] = "http://x";
    }
    cfg.allowed_origins = origins;
    cfg.n_allowed_origins = ECL_MCP_MAX_ORIGINS + 1;
    assert_int_equal(ecl_mcp_new(&cfg, &m), ECL_ERR_INVALID);
    memset(long_origin, 'a', sizeof long_origin - 1);
    long_origin[sizeof long_origin - 1] = 0;
    origins[0] = long_origin;
    cfg.n_allowed_origins = 1;
    assert_int_equal(ecl_mcp_new(&cfg, &m), ECL_ERR_INVALID);
    origins[0] = "http://x";
    cfg.n_allowed_origins = ECL_MCP_MAX_ORIGINS;
    assert_int_equal(ecl_mcp_new(&cfg, &m), ECL_OK); /* default clock and randomness */
    assert_non_null(m);
    ecl_mcp_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_initialize_versions),
        cmocka_unit_test(test_initialize_refusals),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_session_limits),
        cmocka_unit_test(test_protocol_version_header),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_http_rules),
        cmocka_unit_test(test_jsonrpc_errors),
        cmocka_unit_test(test_tool_definitions),
        cmocka_unit_test(test_validator),
        cmocka_unit_test(test_tools_list),
        cmocka_unit_test(test_tools_call_sync),
        cmocka_unit_test(test_tools_call_async),
        cmocka_unit_test(test_tool_argument_errors),
        cmocka_unit_test(test_backend_failures),
        cmocka_unit_test(test_concurrency),
    };

    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
