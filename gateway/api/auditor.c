/* The auditor API (docs/auditor-guide.md): search and read the decrypted audit log, fetch the
 * signed checkpoint, raw leaves and Merkle proofs for independent verification, answer a GDPR
 * Art. 15 request for one citizen, and export the log as JSON Lines (streamed).
 *
 * Auditors only: an auditor never reads records and an agent never reads the log.  Every
 * answer is itself audited (kind audit.read) before it leaves, like any other disclosure: the
 * entry names the route and the filters, and a citizen identifier only inside its encrypted
 * "subjects" member. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ecl/policy.h"
#include "ecl/schema.h"
#include "store/policy_db.h"

#define AUDITOR ECL_HTTP_ROLE(ECL_ROLE_AUDITOR)

/* ---- small parsers ------------------------------------------------------------------------ */

/* A decimal u64 without sign, spaces or leading zeros beyond "0"; 1 when valid. */
static int
parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* RFC 3339 UTC ("2026-01-31T12:00:00Z") or milliseconds since the epoch; 1 when valid. */
static int
parse_time_ms(const char *s, uint64_t *out)
{
    int64_t secs = 0;

    if (parse_u64(s, out)) {
        return 1;
    }
    if (!ecl_rfc3339_parse(s, strlen(s), &secs) || secs < 0 || (uint64_t)secs > UINT64_MAX / 1000) {
        return 0;
    }
    *out = (uint64_t)secs * 1000;
    return 1;
}

static enum ecl_http_result
bad_request(struct ecl_http_resp *resp, const char *reason)
{
    ecl_http_resp_problem(resp, ECL_PROB_BAD_REQUEST);
    resp->reason = reason;
    return ECL_HTTP_DONE;
}

/* ---- the audit.read entry and audit-then-respond for non-JSON bodies ---------------------- */

/* What every auditor answer records.  Strings are borrowed for the submit call only. */
struct read_event {
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[512];
    const char *subject[1];
};

static void
read_event_init(struct read_event *r, const struct ecl_http_req *req)
{
    memset(r, 0, sizeof *r);
    r->ev.kind = ECL_AUDIT_AUDIT_READ;
    ecl_api_event_from_req(req, &r->ev, r->idbuf);
    r->ev.decision = ECL_AUDIT_ALLOW;
    snprintf(r->detail, sizeof r->detail, "GET %s", ecl_http_req_route(req));
    r->ev.detail = r->detail;
}

/* Appends " name=value" to the detail (filter values other than a subject, which is never
 * written in clear). */
static void
read_event_note(struct read_event *r, const char *name, const char *value)
{
    size_t used = strlen(r->detail);

    if (value != NULL && used < sizeof r->detail) {
        snprintf(r->detail + used, sizeof r->detail - used, " %s=%s", name, value);
    }
}

static void
read_event_subject(struct read_event *r, const char *norm)
{
    r->subject[0] = norm;
    r->ev.subjects = r->subject;
    r->ev.nsubjects = 1;
    read_event_note(r, "subject", "(encrypted)");
}

/* A prepared answer waiting for its audit entry. */
struct held {
    struct ecl_http_req *req;
    struct ecl_http_resp resp;
};

static void
held_done(void *arg, enum ecl_status st, uint64_t seq)
{
    struct held *h = arg;
    char num[24];

    if (st != ECL_OK) {
        ecl_http_resp_problem(&h->resp, ECL_PROB_SEALED); /* nothing leaves unaudited */
    } else {
        snprintf(num, sizeof num, "%" PRIu64, seq);
        if (ecl_http_resp_header(&h->resp, "X-Audit-Seq", num) != ECL_OK) {
            ecl_http_resp_problem(&h->resp, ECL_PROB_INTERNAL);
        }
    }
    ecl_http_req_complete(h->req, &h->resp);
    ecl_http_resp_free(&h->resp);
    free(h);
}

/* Audit-then-respond for a prepared response (text, HTML, a stream): takes *prepared (left
 * empty).  A buffered body's BLAKE2b-256 goes into the entry. */
static enum ecl_http_result
commit_prepared(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                struct read_event *r, struct ecl_http_resp *prepared)
{
    struct held *h = calloc(1, sizeof *h);
    uint8_t digest[ECL_HASH_LEN];
    enum ecl_status st;

    if (h == NULL) {
        ecl_http_resp_free(prepared);
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return ECL_HTTP_DONE;
    }
    h->req = req;
    h->resp = *prepared;
    ecl_http_resp_init(prepared);
    if (h->resp.stream_fn == NULL) {
        ecl_crypto_blake2b(digest, sizeof digest, NULL, 0, h->resp.body.ptr, h->resp.body.len);
        r->ev.response_digest = digest;
    }
    st = ecl_audit_submit(app->audit, &r->ev, held_done, h);
    if (st == ECL_OK) {
        ecl_http_req_audited(req); /* the audit.read entry describes the answer */
        return ECL_HTTP_PENDING;
    }
    ecl_http_resp_free(&h->resp);
    free(h);
    if (st == ECL_ERR_LIMIT) {
        ecl_http_resp_problem(resp, ECL_PROB_UNAVAILABLE);
        if (ecl_http_resp_header(resp, "Retry-After", "1") != ECL_OK) {
            ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        }
    } else {
        ecl_http_resp_problem(resp, st == ECL_ERR_SEALED ? ECL_PROB_SEALED : ECL_PROB_INTERNAL);
    }
    return ECL_HTTP_DONE;
}

/* Audit-then-respond for JSON: {"data": data, "meta": meta + audit_seq} (commit.c). */
static enum ecl_http_result
commit_json(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
            struct read_event *r, json_t *data, json_t *meta)
{
    return ecl_api_commit_json(app, req, resp, &r->ev, 200, data,
                               meta != NULL ? meta : json_object());
}

/* ---- filters ------------------------------------------------------------------------------ */

/* The parsed filters of a request, with the storage their strings point into. */
struct filters {
    struct ecl_audit_filter f;
    char principal[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char subject[ECL_SUBJECT_ID_MAX_LEN + 1]; /* normalised identifier */
};

static void
filters_wipe(struct filters *fl)
{
    ecl_wipe(fl->subject, sizeof fl->subject);
}

/* Normalises a citizen identifier as the datasets' subject field does (the subject blind index
 * is over the normalised identifier).  With a dataset, that dataset's rule; without one, the
 * rule every dataset shares.  NULL on success, else a static reason. */
static const char *
subject_normalise(struct ecl_app *app, const char *raw, const char *dataset,
                  char out[ECL_SUBJECT_ID_MAX_LEN + 1])
{
    struct ecl_schema **schemas = NULL;
    size_t n = 0;
    int have = 0;
    enum ecl_normalize how = ECL_NORM_EXACT;
    const char *why = NULL;
    size_t len;

    if (strlen(raw) > ECL_SUBJECT_ID_MAX_LEN) {
        return "subject: longer than the longest identifier";
    }
    if (ecl_policy_db_schemas(app->store, &schemas, &n) != ECL_OK) {
        return "subject: the datasets cannot be read";
    }
    for (size_t i = 0; i < n && why == NULL; i++) {
        const struct ecl_schema *s = schemas[i];
        enum ecl_normalize h = s->fields[s->subject_field].normalize;
        if (dataset != NULL && strcmp(s->name, dataset) != 0) {
            continue;
        }
        if (have && h != how) {
            why = "subject: the datasets normalise identifiers differently; add dataset=NAME";
        }
        how = h;
        have = 1;
    }
    ecl_policy_db_schemas_free(schemas, n);
    if (why != NULL) {
        return why;
    }
    if (dataset != NULL && !have) {
        return "dataset: no such dataset";
    }
    len = ecl_normalize(how, raw, strlen(raw), out, ECL_SUBJECT_ID_MAX_LEN + 1);
    if (len == (size_t)-1 || len == 0) {
        ecl_wipe(out, ECL_SUBJECT_ID_MAX_LEN + 1);
        return "subject: empty once normalised";
    }
    return NULL;
}

static const char *
text_param(const struct ecl_http_req *req, const char *name, const char **out)
{
    const char *v = ecl_http_req_query(req, name);

    if (v != NULL && (v[0] == 0 || strlen(v) > ECL_AUDIT_TEXT_MAX_LEN)) {
        return "a filter is empty or too long";
    }
    *out = v;
    return NULL;
}

/* Parses principal, subject, purpose, dataset, kind, decision, since and until.  NULL on
 * success, else a static reason for a 400.  Notes the filters in the read entry. */
static const char *
filters_parse(struct ecl_app *app, const struct ecl_http_req *req, const char *subject_raw,
              struct filters *fl, struct read_event *r)
{
    const char *v = NULL;
    const char *why;

    memset(fl, 0, sizeof *fl);
    if ((why = text_param(req, "purpose", &fl->f.purpose)) != NULL ||
        (why = text_param(req, "dataset", &fl->f.dataset)) != NULL ||
        (why = text_param(req, "kind", &fl->f.kind)) != NULL ||
        (why = text_param(req, "decision", &fl->f.decision)) != NULL) {
        return why;
    }
    if (fl->f.kind != NULL) {
        int known = 0;
        for (unsigned k = 0; k < ECL_AUDIT_KIND_COUNT; k++) {
            known |= strcmp(fl->f.kind, ecl_audit_kind_name((enum ecl_audit_kind)k)) == 0;
        }
        if (!known) {
            return "kind: not an entry kind (record.read, policy.change, ...)";
        }
    }
    if (fl->f.decision != NULL && strcmp(fl->f.decision, "allow") != 0 &&
        strcmp(fl->f.decision, "deny") != 0 && strcmp(fl->f.decision, "none") != 0) {
        return "decision: allow, deny or none";
    }
    v = ecl_http_req_query(req, "since");
    if (v != NULL && !parse_time_ms(v, &fl->f.since_ms)) {
        return "since: an RFC 3339 UTC time (2026-01-31T12:00:00Z) or milliseconds";
    }
    v = ecl_http_req_query(req, "until");
    if (v != NULL && (!parse_time_ms(v, &fl->f.until_ms) || fl->f.until_ms == 0)) {
        return "until: an RFC 3339 UTC time (2026-01-31T12:00:00Z) or milliseconds";
    }
    v = ecl_http_req_query(req, "principal");
    if (v != NULL) {
        struct ecl_principal p;
        if (v[0] == 0 || strlen(v) > ECL_AUDIT_TEXT_MAX_LEN) {
            return "principal: empty or too long";
        }
        if (ecl_principal_find(app->store, v, &p) == ECL_OK) {
            ecl_hex(p.id, sizeof p.id, fl->principal);
            fl->f.principal = fl->principal;
        } else if (strchr(v, ':') != NULL) {
            fl->f.principal = v; /* an administrative actor such as "cli:alice" */
        } else {
            return "principal: no principal has this id or name";
        }
    }
    if (subject_raw == NULL) {
        subject_raw = ecl_http_req_query(req, "subject");
    }
    if (subject_raw != NULL) {
        why = subject_normalise(app, subject_raw, fl->f.dataset, fl->subject);
        if (why != NULL) {
            return why;
        }
        fl->f.subject = fl->subject;
        read_event_subject(r, fl->subject);
    }
    read_event_note(r, "principal", fl->f.principal);
    read_event_note(r, "purpose", fl->f.purpose);
    read_event_note(r, "dataset", fl->f.dataset);
    read_event_note(r, "kind", fl->f.kind);
    read_event_note(r, "decision", fl->f.decision);
    read_event_note(r, "since", ecl_http_req_query(req, "since"));
    read_event_note(r, "until", ecl_http_req_query(req, "until"));
    return NULL;
}

static enum ecl_http_result
read_failed(struct ecl_http_resp *resp, enum ecl_status st)
{
    ecl_http_resp_problem(resp, ecl_http_problem_of_status(st));
    return ECL_HTTP_DONE;
}

/* ---- GET /v1/audit/entries, /v1/audit/entries/{seq} --------------------------------------- */

static enum ecl_http_result
h_entries(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct read_event r;
    struct filters fl;
    const char *why;
    const char *v;
    uint64_t cursor = 0;
    uint64_t limit = ECL_AUDITOR_PAGE_DEFAULT;
    uint64_t next = UINT64_MAX;
    char num[24];
    json_t *items = NULL;
    json_t *meta = NULL;
    enum ecl_status st;
    enum ecl_http_result res;

    read_event_init(&r, req);
    v = ecl_http_req_query(req, "cursor");
    if (v != NULL && !parse_u64(v, &cursor)) {
        return bad_request(resp, "cursor: the next_cursor of a previous page");
    }
    v = ecl_http_req_query(req, "limit");
    if (v != NULL && (!parse_u64(v, &limit) || limit == 0 || limit > ECL_AUDITOR_PAGE_MAX)) {
        return bad_request(resp, "limit: 1 to 1000");
    }
    why = filters_parse(app, req, NULL, &fl, &r);
    if (why != NULL) {
        filters_wipe(&fl);
        return bad_request(resp, why);
    }
    items = json_array();
    st = items == NULL
             ? ECL_ERR_NOMEM
             : ecl_audit_list(app->store, app->kr, &fl.f, cursor, (size_t)limit, items, &next);
    if (st != ECL_OK) {
        json_decref(items);
        filters_wipe(&fl);
        return read_failed(resp, st);
    }
    snprintf(num, sizeof num, "%" PRIu64, next);
    meta =
        json_pack("{s:o,s:I}", "next_cursor", next == UINT64_MAX ? json_null() : json_string(num),
                  "count", (json_int_t)json_array_size(items));
    snprintf(num, sizeof num, "%" PRIu64, cursor);
    read_event_note(&r, "cursor", num);
    res = commit_json(app, req, resp, &r, items, meta);
    filters_wipe(&fl);
    return res;
}

static enum ecl_http_result
h_entry(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_entry e;
    struct read_event r;
    uint64_t seq = 0;
    json_t *j;
    enum ecl_status st;

    if (!parse_u64(ecl_http_req_param(req, "seq"), &seq)) {
        return bad_request(resp, "seq: a sequence number");
    }
    st = ecl_audit_entry_get(app->store, app->kr, seq, &e);
    if (st != ECL_OK) {
        return read_failed(resp, st);
    }
    j = ecl_audit_entry_to_json(&e);
    ecl_audit_entry_free(&e);
    if (j == NULL) {
        return read_failed(resp, ECL_ERR_NOMEM);
    }
    read_event_init(&r, req);
    read_event_note(&r, "seq", ecl_http_req_param(req, "seq"));
    return commit_json(app, req, resp, &r, j, NULL);
}

/* ---- checkpoint, leaves, proofs ----------------------------------------------------------- */

static enum ecl_http_result
h_checkpoint(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_http_resp prepared;
    struct read_event r;
    struct ecl_buf note;
    enum ecl_status st;

    ecl_buf_init(&note, ECL_NOTE_MAX_BYTES);
    st = ecl_audit_checkpoint_latest(app->store, &note);
    ecl_http_resp_init(&prepared);
    if (st == ECL_OK) {
        st = ecl_http_resp_set(&prepared, 200, "text/plain; charset=utf-8", note.ptr, note.len);
    }
    ecl_buf_free(&note);
    if (st != ECL_OK) {
        ecl_http_resp_free(&prepared);
        return read_failed(resp, st);
    }
    read_event_init(&r, req);
    return commit_prepared(app, req, resp, &r, &prepared);
}

static json_t *
b64_json(const uint8_t *p, size_t len)
{
    struct ecl_buf b;
    json_t *s = NULL;

    ecl_buf_init(&b, 2 * ECL_AUDIT_ENTRY_MAX_BYTES);
    if (ecl_crypto_b64_encode(p, len, &b) == ECL_OK) {
        s = json_stringn((const char *)b.ptr, b.len);
    }
    ecl_buf_free(&b);
    return s;
}

static enum ecl_status
leaf_to_json(void *arg, uint64_t seq, const uint8_t *leaf, size_t len)
{
    json_t *arr = arg;

    (void)seq;
    return json_array_append_new(arr, b64_json(leaf, len)) == 0 ? ECL_OK : ECL_ERR_NOMEM;
}

/* Reads the query parameters a and b as u64 and the current tree size. */
static const char *
two_numbers(struct ecl_app *app, const struct ecl_http_req *req, const char *a, const char *b,
            uint64_t *va, uint64_t *vb, uint64_t *size)
{
    const char *sa = ecl_http_req_query(req, a);
    const char *sb = ecl_http_req_query(req, b);

    if (sa == NULL || sb == NULL || !parse_u64(sa, va) || !parse_u64(sb, vb)) {
        return "two decimal parameters are required (see docs/auditor-guide.md)";
    }
    if (ecl_audit_tree_size(app->store, size) != ECL_OK) {
        return "the audit log cannot be read";
    }
    return NULL;
}

static enum ecl_http_result
h_leaves(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct read_event r;
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t size = 0;
    const char *why = two_numbers(app, req, "start", "end", &start, &end, &size);
    json_t *arr;
    enum ecl_status st;

    if (why != NULL) {
        return bad_request(resp, why);
    }
    if (start >= end || end > size || end - start > ECL_AUDIT_LEAVES_PER_CALL) {
        return bad_request(resp, "start < end <= tree size and at most 1000 leaves per call");
    }
    arr = json_array();
    st = arr == NULL ? ECL_ERR_NOMEM : ecl_audit_leaves(app->store, start, end, leaf_to_json, arr);
    if (st != ECL_OK) {
        json_decref(arr);
        return read_failed(resp, st);
    }
    read_event_init(&r, req);
    read_event_note(&r, "start", ecl_http_req_query(req, "start"));
    read_event_note(&r, "end", ecl_http_req_query(req, "end"));
    return commit_json(app, req, resp, &r,
                       json_pack("{s:o,s:I,s:I}", "leaves", arr, "start", (json_int_t)start, "end",
                                 (json_int_t)end),
                       json_pack("{s:I}", "tree_size", (json_int_t)size));
}

static json_t *
hashes_json(uint8_t (*proof)[ECL_HASH_LEN], size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, b64_json(proof[i], ECL_HASH_LEN)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *
root_json(struct ecl_app *app, uint64_t size)
{
    uint8_t root[ECL_HASH_LEN];

    if (ecl_audit_root(app->store, size, root) != ECL_OK) {
        return NULL;
    }
    return b64_json(root, sizeof root);
}

static enum ecl_http_result
h_inclusion(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    uint8_t proof[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    struct read_event r;
    uint64_t index = 0;
    uint64_t size = 0;
    uint64_t cur = 0;
    size_t n = 0;
    const char *why = two_numbers(app, req, "index", "size", &index, &size, &cur);
    json_t *root;
    json_t *hashes;
    enum ecl_status st;

    if (why != NULL) {
        return bad_request(resp, why);
    }
    if (index >= size || size > cur) {
        return bad_request(resp, "index < size <= tree size");
    }
    st = ecl_audit_proof_inclusion(app->store, index, size, proof, &n);
    if (st != ECL_OK) {
        return read_failed(resp, st);
    }
    root = root_json(app, size);
    hashes = hashes_json(proof, n);
    if (root == NULL || hashes == NULL) {
        json_decref(root);
        json_decref(hashes);
        return read_failed(resp, ECL_ERR_NOMEM);
    }
    read_event_init(&r, req);
    read_event_note(&r, "index", ecl_http_req_query(req, "index"));
    read_event_note(&r, "size", ecl_http_req_query(req, "size"));
    return commit_json(app, req, resp, &r,
                       json_pack("{s:I,s:I,s:o,s:o}", "leaf_index", (json_int_t)index, "tree_size",
                                 (json_int_t)size, "hashes", hashes, "root", root),
                       NULL);
}

static enum ecl_http_result
h_consistency(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    uint8_t proof[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    struct read_event r;
    uint64_t first = 0;
    uint64_t second = 0;
    uint64_t cur = 0;
    size_t n = 0;
    const char *why = two_numbers(app, req, "from", "to", &first, &second, &cur);
    json_t *r1;
    json_t *r2;
    json_t *hashes;
    enum ecl_status st;

    if (why != NULL) {
        return bad_request(resp, why);
    }
    if (first == 0 || first > second || second > cur) {
        return bad_request(resp, "0 < from <= to <= tree size");
    }
    st = ecl_audit_proof_consistency(app->store, first, second, proof, &n);
    if (st != ECL_OK) {
        return read_failed(resp, st);
    }
    r1 = root_json(app, first);
    r2 = root_json(app, second);
    hashes = hashes_json(proof, n);
    if (r1 == NULL || r2 == NULL || hashes == NULL) {
        json_decref(r1);
        json_decref(r2);
        json_decref(hashes);
        return read_failed(resp, ECL_ERR_NOMEM);
    }
    read_event_init(&r, req);
    read_event_note(&r, "from", ecl_http_req_query(req, "from"));
    read_event_note(&r, "to", ecl_http_req_query(req, "to"));
    return commit_json(app, req, resp, &r,
                       json_pack("{s:I,s:I,s:o,s:o,s:o}", "first", (json_int_t)first, "second",
                                 (json_int_t)second, "hashes", hashes, "first_root", r1,
                                 "second_root", r2),
                       NULL);
}

/* ---- GDPR Art. 15 report ------------------------------------------------------------------ */

/* Policy documents by version, read once per report. */
struct policy_cache {
    uint64_t version[ECL_AUDITOR_POLICY_CACHE];
    json_t *doc[ECL_AUDITOR_POLICY_CACHE];
    size_t n;
    json_t *active; /* the active policy's document, for entries without a version */
};

static void
policy_cache_free(struct policy_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        json_decref(c->doc[i]);
    }
    json_decref(c->active);
}

static const json_t *
policy_doc(struct ecl_app *app, struct policy_cache *c, uint64_t version)
{
    struct ecl_buf doc;
    json_t *j = NULL;

    for (size_t i = 0; i < c->n; i++) {
        if (c->version[i] == version) {
            return c->doc[i];
        }
    }
    if (version == 0 || c->n == ECL_AUDITOR_POLICY_CACHE) {
        return c->active;
    }
    ecl_buf_init(&doc, ECL_POLICY_MAX_BYTES * 2);
    if (ecl_policy_db_get(app->store, version, &doc, NULL) == ECL_OK) {
        const char *why = NULL;
        j = ecl_json_load((const char *)doc.ptr, doc.len, ECL_JSON_MAX_DEPTH, &why, NULL);
    }
    ecl_buf_free(&doc);
    c->version[c->n] = version;
    c->doc[c->n] = j;
    c->n++;
    return j != NULL ? j : c->active;
}

/* The member out of the register entry of id ("agents" / "purposes"), or NULL. */
static const char *
register_get(const json_t *doc, const char *reg, const char *id, const char *member)
{
    const json_t *arr = json_object_get(doc, reg);
    size_t i;
    const json_t *it;

    if (id == NULL) {
        return NULL;
    }
    json_array_foreach(arr, i, it)
    {
        if (json_is_string(json_object_get(it, "id")) &&
            strcmp(json_string_value(json_object_get(it, "id")), id) == 0) {
            return json_string_value(json_object_get(it, member));
        }
    }
    return NULL;
}

static const char *
str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *
or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

/* Adds one entry to the report: accesses grouped by agent, refusals, administrative events. */
static void
report_add(struct ecl_app *app, struct policy_cache *pc, json_t *rep, json_t *groups,
           const json_t *e)
{
    const char *kind = str_of(e, "kind");
    const char *decision = str_of(e, "decision");
    const char *pid = str_of(e, "principal");
    const json_t *pol = json_object_get(e, "policy");
    uint64_t version = 0;
    const json_t *doc;
    const char *agent = NULL;
    const char *org;
    struct ecl_principal p;
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    json_t *item;

    if (kind == NULL || decision == NULL || strcmp(kind, "audit.read") == 0) {
        return; /* the auditors' own reads are not accesses to the citizen's data */
    }
    if (json_is_integer(json_object_get(pol, "version"))) {
        version = (uint64_t)json_integer_value(json_object_get(pol, "version"));
    }
    doc = policy_doc(app, pc, version);
    if (pid != NULL && strlen(pid) == 2 * ECL_PRINCIPAL_ID_LEN &&
        ecl_unhex(pid, strlen(pid), id, sizeof id) == ECL_OK &&
        ecl_principal_get(app->store, id, &p) == ECL_OK) {
        agent = p.name;
    }
    org = register_get(doc, "agents", agent, "organisation");
    item = json_pack("{s:O,s:O,s:s,s:s?,s:s?,s:s?}", "seq", json_object_get(e, "seq"), "time",
                     json_object_get(e, "time"), "kind", kind, "channel", str_of(e, "channel"),
                     "purpose", str_of(e, "purpose"), "dataset", str_of(e, "dataset"));
    if (item == NULL) {
        return;
    }
    if (strcmp(decision, "allow") == 0 &&
        (strcmp(kind, "record.read") == 0 || strcmp(kind, "record.query") == 0 ||
         strcmp(kind, "reidentify") == 0)) {
        const char *key = pid != NULL ? pid : "-";
        json_t *g = json_object_get(groups, key);
        json_t *fields = json_object_get(e, "fields");
        json_object_set_new(item, "legal_basis",
                            json_string(or_dash(register_get(doc, "purposes", str_of(e, "purpose"),
                                                             "legal_basis"))));
        json_object_set(item, "fields", json_is_array(fields) ? fields : json_array());
        json_object_set_new(item, "case_reference", json_boolean(str_of(e, "case") != NULL));
        json_object_set_new(item, "on_behalf_of_official",
                            json_boolean(str_of(e, "official") != NULL));
        if (version != 0) {
            json_object_set_new(item, "policy_version", json_integer((json_int_t)version));
        }
        if (g == NULL) {
            g = json_pack("{s:s?,s:s?,s:s?,s:s?,s:[]}", "agent", agent, "principal", pid, "role",
                          str_of(e, "role"), "organisation", org, "accesses");
            if (g == NULL || json_object_set_new(groups, key, g) != 0) {
                json_decref(item);
                return;
            }
        }
        json_array_append_new(json_object_get(g, "accesses"), item);
        json_object_set_new(
            rep, "accesses_total",
            json_integer(json_integer_value(json_object_get(rep, "accesses_total")) + 1));
    } else if (strcmp(decision, "deny") == 0) {
        json_object_set_new(item, "agent", agent != NULL ? json_string(agent) : json_null());
        json_object_set_new(item, "organisation", org != NULL ? json_string(org) : json_null());
        json_object_set_new(item, "reason", json_string(or_dash(str_of(e, "reason"))));
        json_array_append_new(json_object_get(rep, "refusals"), item);
    } else {
        json_array_append_new(json_object_get(rep, "other_events"), item);
    }
}

/* Builds the report of one (normalised) subject. */
static enum ecl_status
report_build(struct ecl_app *app, const struct ecl_audit_filter *f, json_t **out)
{
    struct policy_cache pc;
    const struct ecl_policy_view *v = ecl_policy_holder_acquire(app->policy);
    json_t *rep = json_pack("{s:i,s:[],s:[],s:b}", "accesses_total", 0, "refusals", "other_events",
                            "truncated", 0);
    json_t *groups = json_object();
    json_t *arr = json_array();
    uint64_t cursor = 0;
    size_t seen = 0;
    enum ecl_status st = rep != NULL && groups != NULL ? ECL_OK : ECL_ERR_NOMEM;

    memset(&pc, 0, sizeof pc);
    if (v != NULL) {
        pc.active = json_deep_copy(ecl_policy_json(v->policy));
        ecl_policy_holder_release(app->policy, v);
    }
    while (st == ECL_OK && cursor != UINT64_MAX) {
        json_t *items = json_array();
        size_t i;
        json_t *e;
        st = items == NULL ? ECL_ERR_NOMEM
                           : ecl_audit_list(app->store, app->kr, f, cursor, ECL_AUDIT_LIST_MAX,
                                            items, &cursor);
        json_array_foreach(items, i, e)
        {
            if (seen == ECL_AUDITOR_REPORT_MAX) {
                json_object_set_new(rep, "truncated", json_true());
                cursor = UINT64_MAX;
                break;
            }
            report_add(app, &pc, rep, groups, e);
            seen++;
        }
        json_decref(items);
    }
    if (st == ECL_OK) {
        const char *k;
        json_t *g;
        json_object_foreach(groups, k, g)
        {
            json_array_append(arr, g);
        }
        json_object_set(rep, "recipients", arr);
        *out = rep;
        rep = NULL;
    }
    json_decref(arr);
    json_decref(groups);
    json_decref(rep);
    policy_cache_free(&pc);
    return st;
}

static enum ecl_status
html_text(struct ecl_buf *b, const char *s)
{
    for (; s != NULL && *s != 0; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        ECL_GUARD(rep != NULL ? ecl_buf_append_str(b, rep) : ecl_buf_append_byte(b, (uint8_t)*s));
    }
    return ECL_OK;
}

static enum ecl_status
html_cell(struct ecl_buf *b, const char *s)
{
    ECL_GUARD(ecl_buf_append_str(b, "<td>"));
    ECL_GUARD(html_text(b, s != NULL ? s : "-"));
    return ecl_buf_append_str(b, "</td>");
}

static enum ecl_status
html_fields(struct ecl_buf *b, const json_t *fields)
{
    size_t i;
    const json_t *f;

    ECL_GUARD(ecl_buf_append_str(b, "<td>"));
    json_array_foreach(fields, i, f)
    {
        ECL_GUARD(i > 0 ? ecl_buf_append_str(b, ", ") : ECL_OK);
        ECL_GUARD(html_text(b, str_of(f, "field")));
        ECL_GUARD(ecl_buf_append_str(b, " ("));
        ECL_GUARD(html_text(b, str_of(f, "action")));
        ECL_GUARD(ecl_buf_append_str(b, ")"));
    }
    return ecl_buf_append_str(b, "</td>");
}

/* A printable, self-contained page: no script, no external resource, every value escaped. */
static enum ecl_status
report_html(const json_t *rep, const char *subject, struct ecl_buf *b)
{
    const json_t *groups = json_object_get(rep, "recipients");
    const json_t *g;
    const json_t *a;
    size_t i;
    size_t j;
    char num[32];

    ECL_GUARD(ecl_buf_append_str(
        b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<title>Access report (GDPR Art. 15)</title><style>"
           "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
           "td,th{border:1px solid #999;padding:4px;text-align:left;vertical-align:top}"
           "@media print{body{margin:0}}</style></head><body>\n"
           "<h1>Access to personal data (GDPR Art. 15)</h1>\n<p>Data subject: <strong>"));
    ECL_GUARD(html_text(b, subject));
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(rep, "accesses_total")));
    ECL_GUARD(ecl_buf_append_str(b, "</strong>. Accesses recorded in the audit log: "));
    ECL_GUARD(ecl_buf_append_str(b, num));
    ECL_GUARD(ecl_buf_append_str(
        b, json_is_true(json_object_get(rep, "truncated")) ? " (truncated)</p>\n" : ".</p>\n"));
    json_array_foreach(groups, i, g)
    {
        ECL_GUARD(ecl_buf_append_str(b, "<h2>"));
        ECL_GUARD(html_text(b, str_of(g, "agent") != NULL ? str_of(g, "agent") : "unknown agent"));
        ECL_GUARD(ecl_buf_append_str(b, " &mdash; "));
        ECL_GUARD(html_text(b, str_of(g, "organisation") != NULL ? str_of(g, "organisation")
                                                                 : "organisation not declared"));
        ECL_GUARD(ecl_buf_append_str(b,
                                     "</h2>\n<table><tr><th>Time (UTC)</th><th>Action</th>"
                                     "<th>Purpose</th><th>Legal basis</th><th>Dataset</th>"
                                     "<th>Fields (treatment)</th><th>Case reference</th></tr>\n"));
        json_array_foreach(json_object_get(g, "accesses"), j, a)
        {
            ECL_GUARD(ecl_buf_append_str(b, "<tr>"));
            ECL_GUARD(html_cell(b, str_of(a, "time")));
            ECL_GUARD(html_cell(b, str_of(a, "kind")));
            ECL_GUARD(html_cell(b, str_of(a, "purpose")));
            ECL_GUARD(html_cell(b, str_of(a, "legal_basis")));
            ECL_GUARD(html_cell(b, str_of(a, "dataset")));
            ECL_GUARD(html_fields(b, json_object_get(a, "fields")));
            ECL_GUARD(
                html_cell(b, json_is_true(json_object_get(a, "case_reference")) ? "yes" : "no"));
            ECL_GUARD(ecl_buf_append_str(b, "</tr>\n"));
        }
        ECL_GUARD(ecl_buf_append_str(b, "</table>\n"));
    }
    ECL_GUARD(ecl_buf_append_str(b, "<h2>Refused requests concerning this person</h2>\n"
                                    "<table><tr><th>Time (UTC)</th><th>Agent</th>"
                                    "<th>Organisation</th><th>Purpose</th><th>Reason</th></tr>\n"));
    json_array_foreach(json_object_get(rep, "refusals"), j, a)
    {
        ECL_GUARD(ecl_buf_append_str(b, "<tr>"));
        ECL_GUARD(html_cell(b, str_of(a, "time")));
        ECL_GUARD(html_cell(b, str_of(a, "agent")));
        ECL_GUARD(html_cell(b, str_of(a, "organisation")));
        ECL_GUARD(html_cell(b, str_of(a, "purpose")));
        ECL_GUARD(html_cell(b, str_of(a, "reason")));
        ECL_GUARD(ecl_buf_append_str(b, "</tr>\n"));
    }
    return ecl_buf_append_str(b, "</table>\n</body></html>\n");
}

static int
wants_html(const struct ecl_http_req *req)
{
    const char *fmt = ecl_http_req_query(req, "format");
    const char *accept = ecl_http_req_header(req, "Accept");

    if (fmt != NULL) {
        return strcmp(fmt, "html") == 0;
    }
    return accept != NULL && strstr(accept, "text/html") != NULL;
}

static enum ecl_http_result
h_report(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_http_resp prepared;
    struct read_event r;
    struct filters fl;
    struct ecl_buf html;
    const char *fmt = ecl_http_req_query(req, "format");
    const char *why;
    json_t *rep = NULL;
    enum ecl_status st;
    enum ecl_http_result res;

    if (fmt != NULL && strcmp(fmt, "html") != 0 && strcmp(fmt, "json") != 0) {
        return bad_request(resp, "format: json or html");
    }
    read_event_init(&r, req);
    why = filters_parse(app, req, ecl_http_req_param(req, "id"), &fl, &r);
    if (why == NULL && (fl.f.principal != NULL || fl.f.kind != NULL || fl.f.decision != NULL ||
                        fl.f.purpose != NULL)) {
        why = "a report takes only dataset, since and until";
    }
    if (why != NULL) {
        filters_wipe(&fl);
        return bad_request(resp, why);
    }
    st = report_build(app, &fl.f, &rep);
    if (st != ECL_OK) {
        filters_wipe(&fl);
        return read_failed(resp, st);
    }
    if (!wants_html(req)) {
        json_object_set_new(rep, "subject", json_string(fl.subject));
        res = commit_json(app, req, resp, &r, rep, NULL);
        filters_wipe(&fl);
        return res;
    }
    read_event_note(&r, "format", "html");
    ecl_buf_init(&html, ECL_HTTP_MAX_RESPONSE_BYTES);
    ecl_http_resp_init(&prepared);
    st = report_html(rep, fl.subject, &html);
    json_decref(rep);
    if (st == ECL_OK) {
        st = ecl_http_resp_set(&prepared, 200, "text/html; charset=utf-8", html.ptr, html.len);
    }
    if (st == ECL_OK) {
        st = ecl_http_resp_header(&prepared, "Content-Security-Policy",
                                  "default-src 'none'; style-src 'unsafe-inline'");
    }
    ecl_buf_free(&html);
    if (st != ECL_OK) {
        ecl_http_resp_free(&prepared);
        filters_wipe(&fl);
        return read_failed(resp, st);
    }
    res = commit_prepared(app, req, resp, &r, &prepared);
    filters_wipe(&fl);
    return res;
}

/* ---- GET /v1/audit/export: JSON Lines, streamed ------------------------------------------- */

struct export
{
    struct ecl_app *app;
    struct filters fl;
    /* owned copies of the filter strings (the request is gone while the body streams) */
    char *purpose;
    char *dataset;
    char *kind;
    char *decision;
    char *principal;
    uint64_t cursor;
    uint64_t end; /* the tree size when the export began: a live log does not stream forever */
    json_t *items;
    size_t next_item;
};

static void
export_free(void *arg)
{
    struct export *x = arg;

    json_decref(x->items);
    free(x->purpose);
    free(x->dataset);
    free(x->kind);
    free(x->decision);
    free(x->principal);
    filters_wipe(&x->fl);
    free(x);
}

static enum ecl_status
export_fill(void *arg, struct ecl_buf *out)
{
    struct export *x = arg;

    while (out->len < ECL_HTTP_STREAM_BLOCK) {
        json_t *e;
        char *line;
        enum ecl_status st;
        if (x->items == NULL || x->next_item == json_array_size(x->items)) {
            if (x->cursor >= x->end) {
                return ECL_OK; /* nothing appended: the end */
            }
            json_decref(x->items);
            x->items = json_array();
            x->next_item = 0;
            if (x->items == NULL) {
                return ECL_ERR_NOMEM;
            }
            ECL_GUARD(ecl_audit_list(x->app->store, x->app->kr, &x->fl.f, x->cursor,
                                     ECL_AUDITOR_EXPORT_BATCH, x->items, &x->cursor));
            continue;
        }
        e = json_array_get(x->items, x->next_item++);
        if ((uint64_t)json_integer_value(json_object_get(e, "seq")) >= x->end) {
            x->cursor = x->end;
            json_array_clear(x->items);
            x->next_item = 0;
            continue;
        }
        line = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
        if (line == NULL) {
            return ECL_ERR_NOMEM;
        }
        st = ecl_buf_append_str(out, line);
        if (st == ECL_OK) {
            st = ecl_buf_append_byte(out, '\n');
        }
        ecl_wipe(line, strlen(line));
        free(line);
        ECL_GUARD(st);
    }
    return ECL_OK;
}

static int
dup_into(const char *s, char **out, const char **view)
{
    if (s == NULL) {
        return 1;
    }
    *out = strdup(s);
    *view = *out;
    return *out != NULL;
}

static enum ecl_http_result
h_export(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_http_resp prepared;
    struct read_event r;
    struct export *x = calloc(1, sizeof *x);
    const char *why;
    struct ecl_audit_filter *f;

    if (x == NULL) {
        return read_failed(resp, ECL_ERR_NOMEM);
    }
    x->app = app;
    read_event_init(&r, req);
    why = filters_parse(app, req, NULL, &x->fl, &r);
    if (why != NULL) {
        export_free(x);
        return bad_request(resp, why);
    }
    f = &x->fl.f;
    if (!dup_into(f->purpose, &x->purpose, &f->purpose) ||
        !dup_into(f->dataset, &x->dataset, &f->dataset) || !dup_into(f->kind, &x->kind, &f->kind) ||
        !dup_into(f->decision, &x->decision, &f->decision) ||
        (f->principal != x->fl.principal &&
         !dup_into(f->principal, &x->principal, &f->principal)) ||
        ecl_audit_tree_size(app->store, &x->end) != ECL_OK) {
        export_free(x);
        return read_failed(resp, ECL_ERR_NOMEM);
    }
    ecl_http_resp_init(&prepared);
    ecl_http_resp_stream(&prepared, 200, "application/x-ndjson", export_fill, x, export_free);
    return commit_prepared(app, req, resp, &r, &prepared);
}

/* ---- routes ------------------------------------------------------------------------------- */

size_t
ecl_api_auditor_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    const struct ecl_http_route routes[] = {
        {ECL_HTTP_GET, "/v1/audit/entries", AUDITOR, 0, h_entries, app},
        {ECL_HTTP_GET, "/v1/audit/entries/{seq}", AUDITOR, 0, h_entry, app},
        {ECL_HTTP_GET, "/v1/audit/checkpoint", AUDITOR, 0, h_checkpoint, app},
        {ECL_HTTP_GET, "/v1/audit/leaves", AUDITOR, 0, h_leaves, app},
        {ECL_HTTP_GET, "/v1/audit/proof/inclusion", AUDITOR, 0, h_inclusion, app},
        {ECL_HTTP_GET, "/v1/audit/proof/consistency", AUDITOR, 0, h_consistency, app},
        {ECL_HTTP_GET, "/v1/audit/subjects/{id}/report", AUDITOR, 0, h_report, app},
        {ECL_HTTP_GET, "/v1/audit/export", AUDITOR, 0, h_export, app},
    };
    size_t n = sizeof routes / sizeof routes[0];

    if (n > cap) {
        n = cap;
    }
    memcpy(out, routes, n * sizeof routes[0]);
    return n;
}
