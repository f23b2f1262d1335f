/* The one egress point (disclose.h).  Default deny: every answer is built by iterating over the
 * decision's granted fields, never over the record, and every granted value goes through
 * ecl_transform_apply; a transform failure refuses the record (fail closed).  Every answer,
 * refusals included, is described by an audit entry that is durable before the caller gets it.
 *
 * Also the agent API's state: the per-(agent, rule) limit counters (limits.h: in memory,
 * rebuilt from the audit log at start-up; every entry of an admitted request says what it
 * counted).  Released pseudonyms go into the look-up index in the
 * same transaction as the audit entry that released them (pseudo_offer). */
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disclose.h"
#include "ecl/transform.h"
#include "http/log.h"
#include "json_dump.h"
#include "limits.h"
#include "query.h"
#include "store/pseudo.h"
#include "view.h"

/* ---- state: limits and the pseudonym index writer ------------------------------------------ */

/* The encoded meta of a record answer depends only on the policy (version and content hash),
 * the rule, the purpose and the dataset: built once, then copied (meta_cached).  No personal
 * data: rule, fields, actions, obligations. */
struct meta_slot {
    uint64_t version;
    char hash[2 * ECL_HASH_LEN + 1];
    char rule[ECL_NAME_MAX_LEN + 1];
    char purpose[ECL_NAME_MAX_LEN + 1];
    char dataset[ECL_NAME_MAX_LEN + 1];
    char *json; /* NULL: empty slot */
    size_t len;
};

struct ecl_api_agent_state {
    uint8_t *cursor_key; /* ecl_secret_alloc */
    struct ecl_api_limits *limits;
    pthread_mutex_t meta_mu;
    struct meta_slot meta[ECL_META_CACHE_SLOTS];
};

/* The limit counters as the live ones were when the gateway stopped (limits.h), or a refusal
 * to start that says why (fail closed: never a fresh allowance by mistake). */
static enum ecl_status
limits_rebuild(struct ecl_app *app, struct ecl_api_limits *l)
{
    struct ecl_api_limits_rebuilt rb;
    struct ecl_logline line;
    struct timespec t0;
    struct timespec t1;
    uint64_t bad = UINT64_MAX;
    /* ECLUSE_LIMITS_IGNORE_CHECKPOINT=1 (tests, benchmarks): walk the whole day as an older data
     * directory would; the counters are the same */
    const char *ign = getenv("ECLUSE_LIMITS_IGNORE_CHECKPOINT");
    unsigned flags = ign != NULL && strcmp(ign, "1") == 0 ? ECL_API_LIMITS_NO_CHECKPOINT : 0;
    enum ecl_status st;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = ecl_api_limits_rebuild(l, app->store, app->kr, app->now(), flags, &rb, &bad);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != ECL_OK && bad == ECL_API_LIMITS_BAD_CHECKPOINT) {
        fprintf(stderr,
                "ecluse: the rate-limit checkpoint in the audit log %s; refusing to start (see "
                "docs/api.md, \"Limits\")\n",
                st == ECL_ERR_CRYPTO ? "does not authenticate (tampered, or another key)"
                                     : "is malformed or covers entries the log does not have");
        return st == ECL_ERR_NOMEM ? st : ECL_ERR_CRYPTO;
    }
    if (st != ECL_OK) {
        const char *why = st == ECL_ERR_CRYPTO    ? "does not decrypt (tampered or unreadable)"
                          : st == ECL_ERR_LIMIT   ? "is beyond a limit of the rebuild (too many "
                                                    "entries since the start of the UTC day, "
                                                    "counters or principals)"
                          : st == ECL_ERR_INVALID ? "is malformed or out of place (tampered)"
                                                  : ecl_status_name(st);
        if (bad != UINT64_MAX) {
            fprintf(stderr,
                    "ecluse: the rate-limit counters cannot be rebuilt from the audit log: "
                    "entry %" PRIu64 " %s; refusing to start (see docs/api.md, \"Limits\")\n",
                    bad, why);
        } else {
            fprintf(stderr,
                    "ecluse: the rate-limit counters cannot be rebuilt from the audit log: %s; "
                    "refusing to start (see docs/api.md, \"Limits\")\n",
                    why);
        }
        return st;
    }
    ecl_log_begin(&line, ECL_LOG_INFO, "limits_rebuilt");
    ecl_log_u64(&line, "entries_read", rb.entries);
    ecl_log_u64(&line, "entries_counted", rb.counted);
    ecl_log_u64(&line, "counters", rb.counters);
    ecl_log_u64(&line, "from_checkpoint", (uint64_t)rb.from_checkpoint);
    ecl_log_u64(&line, "checkpoint_counters", rb.checkpoint_counters);
    ecl_log_u64(&line, "since", rb.oldest_s);
    ecl_log_double(&line, "ms",
                   (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    ecl_log_end(&line);
    /* from now on the writer keeps these counters and checkpoints them */
    ecl_audit_limits_seed(app->audit, rb.seed, rb.seed_next);
    return ECL_OK;
}

enum ecl_status
ecl_api_agent_init(struct ecl_app *app)
{
    struct ecl_api_agent_state *s = calloc(1, sizeof *s);
    const uint8_t *fk;
    static const char ctx[] = "ecluse query cursor v1";
    enum ecl_status st;

    if (s == NULL) {
        return ECL_ERR_NOMEM;
    }
    s->cursor_key = ecl_secret_alloc(ECL_KEY_LEN);
    fk = ecl_keyring_key(app->kr, ECL_KEY_FIELD_INDEX);
    if (s->cursor_key == NULL || fk == NULL) {
        if (s->cursor_key != NULL) {
            ecl_secret_free(s->cursor_key);
        }
        free(s);
        return fk == NULL ? ECL_ERR_PERM : ECL_ERR_NOMEM;
    }
    /* cursor key = BLAKE2b-256(key = field-index key, context): stable across restarts, so a
     * cursor stays valid while the gateway restarts */
    ecl_crypto_blake2b(s->cursor_key, ECL_KEY_LEN, fk, ECL_KEY_LEN, ctx, sizeof ctx - 1);
    pthread_mutex_init(&s->meta_mu, NULL);
    app->agent = s;
    st = ecl_api_limits_new(&s->limits);
    if (st == ECL_OK) {
        st = limits_rebuild(app, s->limits);
    }
    if (st != ECL_OK) {
        ecl_api_agent_free(app);
    }
    return st;
}

void
ecl_api_agent_free(struct ecl_app *app)
{
    struct ecl_api_agent_state *s = app->agent;

    if (s == NULL) {
        return;
    }
    ecl_api_limits_free(s->limits);
    for (size_t i = 0; i < ECL_META_CACHE_SLOTS; i++) {
        free(s->meta[i].json);
    }
    pthread_mutex_destroy(&s->meta_mu);
    ecl_secret_free(s->cursor_key);
    free(s);
    app->agent = NULL;
}

/* ---- one disclosure ------------------------------------------------------------------------- */

struct dctx {
    struct ecl_app *app;
    const struct ecl_disclose_req *r;
    ecl_disclose_done_fn done;
    void *arg;
    const struct ecl_policy_view *view;
    const struct ecl_schema *schema;
    struct ecl_decision d;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    uint8_t phash[ECL_HASH_LEN];
    int64_t now;
    int tctx_live;
    /* the subjects and fields named in the entry */
    char **subjects;
    size_t nsubjects;
    size_t subjects_cap;
    size_t nafields;
    /* reserved records (limits) and what the entry says was counted (admitted) */
    uint64_t reserved;
    uint64_t released;
    int admitted;
    struct ecl_audit_counted counted;
    /* pseudonym index rows committed with the entry (pseudo_offer) */
    struct ecl_audit_pseudo prow1;  /* the row of a record read */
    struct ecl_audit_pseudo *prows; /* &prow1, or ECL_AUDIT_PSEUDO_PER_ENTRY rows (queries) */
    size_t nprows;
    /* not zeroed (about 7.5 KiB; zeroing and wiping them per request showed in the profile):
     * tctx is initialised by ecl_transform_ctx_init and wiped by ecl_transform_ctx_free
     * (tctx_live), afields[0..nafields) is written before it is read and holds only pointers to
     * the policy's field names */
    struct ecl_transform_ctx tctx;
    struct ecl_audit_field afields[ECL_SCHEMA_MAX_FIELDS];
};
#define DCTX_ZEROED offsetof(struct dctx, tctx)

/* What the commit callback needs (ecl_api_commit builds and digests the body). */
struct pend {
    ecl_disclose_done_fn done;
    void *arg;
    int ok;
    unsigned status;
    const char *code;
    const char *message;
    unsigned retry_after;
};

static void
result_failed(ecl_disclose_done_fn done, void *arg, unsigned status, const char *code,
              const char *message, unsigned retry_after)
{
    struct ecl_disclose_result res;

    memset(&res, 0, sizeof res);
    res.outcome = ECL_DISCLOSE_FAILED;
    res.status = status;
    res.code = code;
    res.message = message;
    res.retry_after = retry_after;
    res.audit_seq = UINT64_MAX;
    done(arg, &res);
}

static void
committed(void *arg, enum ecl_status st, uint64_t seq, const char *body, size_t body_len)
{
    struct pend *p = arg;
    struct ecl_disclose_result res;

    memset(&res, 0, sizeof res);
    res.status = p->status;
    res.audit_seq = seq;
    if (st == ECL_ERR_NOMEM) {
        result_failed(p->done, p->arg, 500, "internal", "The answer could not be built.", 0);
    } else if (st != ECL_OK) {
        result_failed(p->done, p->arg, 503, "audit_unavailable",
                      "The audit log cannot record this answer; nothing was released.", 0);
    } else if (!p->ok) {
        res.outcome = ECL_DISCLOSE_REFUSED;
        res.code = p->code;
        res.message = p->message;
        res.retry_after = p->retry_after;
        p->done(p->arg, &res);
    } else {
        res.outcome = ECL_DISCLOSE_OK;
        res.body = body;
        res.body_len = body_len;
        p->done(p->arg, &res);
    }
    free(p);
}

/* Audit-then-release through ecl_api_commit: data and meta (taken) NULL for a refusal. */
static void
submit(struct dctx *c, struct pend *p, json_t *data, json_t *meta, const char *meta_json,
       size_t meta_len)
{
    enum ecl_status st;

    c->ev.subjects = (const char *const *)c->subjects;
    c->ev.nsubjects = c->nsubjects;
    c->ev.fields = c->afields;
    c->ev.nfields = c->nafields;
    if (c->admitted) {
        /* a refusal after the admission released nothing (c->released is still 0) */
        c->counted.records = c->released;
        c->ev.counted = &c->counted;
    }
    if (meta_json != NULL) {
        st = ecl_api_commit_meta_json(c->app, &c->ev, data, meta_json, meta_len, committed, p);
    } else {
        st = ecl_api_commit(c->app, &c->ev, data, meta, committed, p);
    }
    if (st == ECL_OK) {
        return;
    }
    if (st == ECL_ERR_LIMIT) {
        result_failed(p->done, p->arg, 503, "audit_queue_full",
                      "The gateway is busy; try again shortly.", 1);
    } else if (st == ECL_ERR_SEALED) {
        result_failed(p->done, p->arg, 503, "audit_unavailable",
                      "The audit log cannot record this answer; nothing was released.", 0);
    } else if (st == ECL_ERR_NOMEM) {
        result_failed(p->done, p->arg, 500, "internal", "The answer could not be built.", 0);
    } else {
        result_failed(p->done, p->arg, 500, "internal", "The answer could not be recorded.", 0);
    }
    free(p);
}

/* A decided refusal: audited with the true reason (audit_reason), answered with status and
 * code. */
static void
refuse(struct dctx *c, unsigned status, const char *code, const char *message,
       const char *audit_reason, unsigned retry_after)
{
    struct pend *p = calloc(1, sizeof *p);

    if (p == NULL) {
        result_failed(c->done, c->arg, 500, "internal", "Out of memory.", 0);
        return;
    }
    p->done = c->done;
    p->arg = c->arg;
    p->status = status;
    p->code = code;
    p->message = message;
    p->retry_after = retry_after;
    c->ev.decision = ECL_AUDIT_DENY;
    c->ev.reason = audit_reason != NULL ? audit_reason : code;
    c->ev.response_digest = NULL;
    c->nafields = 0;   /* a refusal releases no field */
    c->ev.npseudo = 0; /* nor any pseudonym */
    submit(c, p, NULL, NULL, NULL, 0);
}

/* Audit-then-release of {"data": data, "meta": meta} (both taken). */
static void
release(struct dctx *c, json_t *data, json_t *meta)
{
    struct pend *p = calloc(1, sizeof *p);

    if (p == NULL || data == NULL || meta == NULL) {
        free(p);
        json_decref(data);
        json_decref(meta);
        result_failed(c->done, c->arg, 500, "internal", "The answer could not be built.", 0);
        return;
    }
    p->ok = 1;
    p->status = 200;
    p->done = c->done;
    p->arg = c->arg;
    c->ev.decision = ECL_AUDIT_ALLOW;
    c->ev.reason = "ok";
    submit(c, p, data, meta, NULL, 0);
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* On-Behalf-Of and X-Case-Id: 1..ECL_ACTOR_REF_MAX_LEN printable ASCII characters. */
static int
actor_ref_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL) {
        return 1;
    }
    for (; s[n] != 0; n++) {
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ||
            n >= ECL_ACTOR_REF_MAX_LEN) {
            return 0;
        }
    }
    return n > 0;
}

static int
name_ok(const char *s)
{
    return s != NULL && s[0] != 0 && strlen(s) <= ECL_NAME_MAX_LEN;
}

/* A purpose id as the policy defines it (docs/policy.md): 1 to ECL_NAME_MAX_LEN letters, digits,
 * '_', '-' or '.', starting with a letter.  Anything else is a malformed request (400), not an
 * unknown purpose. */
static int
purpose_id_ok(const char *s)
{
    if (!name_ok(s) || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    for (const char *q = s; *q != 0; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '_' || *q == '-' || *q == '.')) {
            return 0;
        }
    }
    return 1;
}

/* Adds a subject identifier, normalised as the schema normalises the subject field. */
static void
add_subject(struct dctx *c, const char *id, size_t len)
{
    const struct ecl_field *f;
    char *norm;
    size_t n;

    if (c->schema == NULL || c->nsubjects >= ECL_AUDIT_SUBJECTS_PER_ENTRY || len == 0 ||
        len > ECL_SUBJECT_ID_MAX_LEN) {
        return;
    }
    if (c->nsubjects == c->subjects_cap) {
        /* grown by copying (pointers only): a record read names one subject, and zeroing room
         * for ECL_AUDIT_SUBJECTS_PER_ENTRY on every request showed in the profile */
        size_t cap = c->subjects_cap == 0 ? 4 : c->subjects_cap * 4;
        char **more;
        if (cap > ECL_AUDIT_SUBJECTS_PER_ENTRY) {
            cap = ECL_AUDIT_SUBJECTS_PER_ENTRY;
        }
        more = malloc(cap * sizeof *more);
        if (more == NULL) {
            return;
        }
        if (c->nsubjects > 0) {
            memcpy(more, c->subjects, c->nsubjects * sizeof *more);
        }
        free(c->subjects);
        c->subjects = more;
        c->subjects_cap = cap;
    }
    f = &c->schema->fields[c->schema->subject_field];
    norm = malloc(len + 1);
    if (norm == NULL) {
        return;
    }
    n = ecl_normalize(f->normalize, id, len, norm, len + 1);
    if (n == (size_t)-1 || n == 0) {
        free(norm);
        return;
    }
    c->subjects[c->nsubjects++] = norm;
}

static json_t *
meta_base(const struct dctx *c)
{
    json_t *m = json_object();

    if (m == NULL) {
        return NULL;
    }
    json_object_set_new(m, "policy_version", json_integer((json_int_t)c->view->version));
    json_object_set_new(m, "policy_hash", json_string(c->view->hash));
    if (c->r->purpose != NULL) {
        json_object_set_new(m, "purpose", json_string(c->r->purpose));
    }
    return m;
}

/* meta of a record answer: rule, the fields returned with their actions, obligations. */
static json_t *
meta_record(const struct dctx *c, const unsigned char *returned)
{
    json_t *m = meta_base(c);
    json_t *fields = json_object();
    json_t *actions = json_object();

    if (m == NULL || fields == NULL || actions == NULL) {
        json_decref(m);
        json_decref(fields);
        json_decref(actions);
        return NULL;
    }
    for (size_t i = 0; i < c->d.nfields; i++) {
        const struct ecl_plan_field *pf = &c->d.fields[i];
        if (returned != NULL && !returned[pf->schema_index]) {
            continue;
        }
        json_object_set_new(fields, pf->name, json_string(ecl_action_kind_name(pf->action.kind)));
        json_object_set_new(actions, pf->name, ecl_action_to_json(&pf->action));
    }
    json_object_set_new(m, "rule_id", json_string(c->d.rule_id));
    json_object_set_new(m, "fields", fields);
    json_object_set_new(m, "field_actions", actions);
    json_object_set_new(m, "obligations", ecl_api_obligations_list(c->d.obligations_json));
    json_object_set_new(m, "obligation_terms",
                        c->d.obligations_json != NULL ? json_deep_copy(c->d.obligations_json)
                                                      : json_object());
    return m;
}

static size_t
meta_slot_index(const char *rule, const char *purpose, const char *dataset)
{
    const char *const parts[] = {rule, purpose, dataset};
    uint64_t h = 14695981039346656037u; /* FNV-1a */

    for (size_t i = 0; i < 3; i++) {
        for (const char *q = parts[i]; *q != 0; q++) {
            h = (h ^ (unsigned char)*q) * 1099511628211u;
        }
        h = (h ^ 0xFFu) * 1099511628211u;
    }
    return (size_t)(h % ECL_META_CACHE_SLOTS);
}

static int
meta_slot_match(const struct meta_slot *m, const struct dctx *c)
{
    return m->json != NULL && m->version == c->view->version &&
           strcmp(m->hash, c->view->hash) == 0 && strcmp(m->rule, c->d.rule_id) == 0 &&
           strcmp(m->purpose, c->r->purpose) == 0 && strcmp(m->dataset, c->r->dataset) == 0;
}

/* The encoded meta_record(c, NULL) into *out (malloc'd, *len bytes): from the cache, or built
 * and cached.  0 when it cannot be cached (the caller builds the tree). */
static int
meta_record_json(const struct dctx *c, char **out, size_t *len)
{
    struct ecl_api_agent_state *s = c->app->agent;
    struct meta_slot *m;
    struct ecl_buf b;
    json_t *meta;
    char *copy = NULL;
    char *keep;

    if (c->d.rule_id == NULL || c->r->purpose == NULL || c->r->dataset == NULL ||
        strlen(c->d.rule_id) > ECL_NAME_MAX_LEN || strlen(c->r->purpose) > ECL_NAME_MAX_LEN ||
        strlen(c->r->dataset) > ECL_NAME_MAX_LEN) {
        return 0;
    }
    m = &s->meta[meta_slot_index(c->d.rule_id, c->r->purpose, c->r->dataset)];
    pthread_mutex_lock(&s->meta_mu);
    if (meta_slot_match(m, c)) {
        copy = malloc(m->len);
        if (copy != NULL) {
            memcpy(copy, m->json, m->len);
            *len = m->len;
        }
    }
    pthread_mutex_unlock(&s->meta_mu);
    if (copy != NULL) {
        *out = copy;
        return 1;
    }
    meta = meta_record(c, NULL);
    ecl_buf_init(&b, SIZE_MAX);
    if (meta == NULL || ecl_api_json_dump(meta, &b) != ECL_OK || b.len == 0) {
        json_decref(meta);
        ecl_buf_free(&b);
        return 0;
    }
    json_decref(meta);
    keep = malloc(b.len);
    if (keep != NULL) {
        memcpy(keep, b.ptr, b.len);
        pthread_mutex_lock(&s->meta_mu);
        free(m->json);
        m->version = c->view->version;
        snprintf(m->hash, sizeof m->hash, "%s", c->view->hash);
        snprintf(m->rule, sizeof m->rule, "%s", c->d.rule_id);
        snprintf(m->purpose, sizeof m->purpose, "%s", c->r->purpose);
        snprintf(m->dataset, sizeof m->dataset, "%s", c->r->dataset);
        m->json = keep;
        m->len = b.len;
        pthread_mutex_unlock(&s->meta_mu);
    }
    *out = (char *)b.ptr; /* taken from the buffer */
    *len = b.len;
    return 1;
}

/* Audit-then-release of a whole record (data taken) with the cached meta of its rule. */
static void
release_record(struct dctx *c, json_t *data)
{
    struct pend *p;
    char *meta = NULL;
    size_t len = 0;

    if (!meta_record_json(c, &meta, &len)) {
        release(c, data, meta_record(c, NULL));
        return;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL || data == NULL) {
        free(p);
        free(meta);
        json_decref(data);
        result_failed(c->done, c->arg, 500, "internal", "The answer could not be built.", 0);
        return;
    }
    p->ok = 1;
    p->status = 200;
    p->done = c->done;
    p->arg = c->arg;
    c->ev.decision = ECL_AUDIT_ALLOW;
    c->ev.reason = "ok";
    submit(c, p, data, NULL, meta, len);
    free(meta);
}

/* The status and code of a policy refusal. */
static void
policy_refusal(struct dctx *c, enum ecl_policy_reason why)
{
    const char *name = ecl_policy_reason_name(why);

    switch (why) {
    case ECL_REASON_ON_BEHALF_OF_REQUIRED:
    case ECL_REASON_CASE_ID_REQUIRED:
        refuse(c, 428, name, ecl_policy_reason_text(why), name, 0);
        return;
    case ECL_REASON_OK:
    case ECL_REASON_UNKNOWN_AGENT:
    case ECL_REASON_UNKNOWN_PURPOSE:
    case ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT:
    case ECL_REASON_NO_RULE:
    case ECL_REASON_OUTSIDE_VALIDITY_WINDOW:
    case ECL_REASON_OBJECTION:
    case ECL_REASON_ROW_CONDITION:
        break;
    }
    if (c->r->op == ECL_DISCLOSE_GET) {
        /* one answer whether the record exists or not; the entry keeps the true reason */
        refuse(c, 404, "not_found", "No such record.", name, 0);
    } else {
        refuse(c, 403, name, ecl_policy_reason_text(why), name, 0);
    }
}

/* Transforms the granted (and returned) fields of record into a new object; NULL on a
 * transform failure (the caller refuses the record: fail closed). */
static json_t *
transform_record(struct dctx *c, const json_t *record, const unsigned char *returned,
                 json_t **subject_out)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < c->d.nfields; i++) {
        const struct ecl_plan_field *pf = &c->d.fields[i];
        const struct ecl_field *f = &c->schema->fields[pf->schema_index];
        const json_t *in = json_object_get(record, f->name);
        json_t *out = NULL;
        if (returned != NULL && !returned[pf->schema_index]) {
            continue;
        }
        if (in == NULL) {
            in = json_null();
        }
        if (ecl_transform_apply(&c->tctx, &pf->action, f, in, &out) != ECL_OK || out == NULL ||
            json_object_set_new(o, f->name, out) != 0) {
            json_decref(o);
            return NULL;
        }
        if (pf->schema_index == c->schema->subject_field && subject_out != NULL) {
            *subject_out = out;
        }
    }
    return o;
}

/* When the released subject identifier is a pseudonym, makes sure the index can resolve it
 * later: the row goes into the audit entry's transaction (struct ecl_audit_event.pseudo), so
 * the pseudonym is resolvable iff that entry is durable, with no second write transaction.
 * check_first (queries, many rows): skip pseudonyms already indexed instead of sealing them. */
static void
pseudo_offer(struct dctx *c, const struct ecl_plan_field *pf, const json_t *ps,
             const uint8_t skey[ECL_SUBJECT_KEY_LEN], int check_first)
{
    struct ecl_audit_pseudo *row;
    struct ecl_pseudo_target t;
    struct ecl_buf b;

    if (pf == NULL || pf->action.kind != ECL_ACT_PSEUDONYMIZE || !json_is_string(ps) ||
        c->nprows >= ECL_AUDIT_PSEUDO_PER_ENTRY) {
        return;
    }
    if (c->prows == NULL) {
        c->prows = &c->prow1;
    } else if (c->prows == &c->prow1) {
        struct ecl_audit_pseudo *more = calloc(ECL_AUDIT_PSEUDO_PER_ENTRY, sizeof *more);
        if (more == NULL) {
            return; /* offered again the next time the record is released */
        }
        more[0] = c->prow1;
        c->prows = more;
    }
    row = &c->prows[c->nprows];
    if (ecl_transform_pseudo_index_key(&c->tctx, &pf->action, json_string_value(ps),
                                       json_string_length(ps), row->key) != ECL_OK) {
        return;
    }
    ecl_buf_init(&b, ECL_PSEUDO_VALUE_MAX);
    if (check_first &&
        ecl_store_pseudo_get(c->app->store, row->key, c->schema->name, &b) != ECL_ERR_NOT_FOUND) {
        ecl_buf_free(&b);
        return;
    }
    memset(&t, 0, sizeof t);
    snprintf(t.dataset, sizeof t.dataset, "%s", c->schema->name);
    memcpy(t.subject_key, skey, ECL_SUBJECT_KEY_LEN);
    t.subject_key_len = ECL_SUBJECT_KEY_LEN;
    ecl_buf_reset(&b);
    if (ecl_transform_pseudo_seal(&c->tctx, row->key, &t, &b) == ECL_OK && b.len > 0 &&
        b.len <= sizeof row->val) {
        memcpy(row->val, b.ptr, b.len);
        row->val_len = b.len;
        c->nprows++;
        c->ev.pseudo = c->prows;
        c->ev.npseudo = c->nprows;
    }
    ecl_wipe(&t, sizeof t);
    ecl_buf_free(&b);
}

static const struct ecl_plan_field *
subject_plan(const struct dctx *c)
{
    for (size_t i = 0; i < c->d.nfields; i++) {
        if (c->d.fields[i].schema_index == c->schema->subject_field) {
            return &c->d.fields[i];
        }
    }
    return NULL;
}

static void
fields_into_event(struct dctx *c, const unsigned char *returned)
{
    c->nafields = 0;
    for (size_t i = 0; i < c->d.nfields && c->nafields < ECL_AUDIT_FIELDS_PER_ENTRY; i++) {
        if (returned != NULL && !returned[c->d.fields[i].schema_index]) {
            continue;
        }
        c->afields[c->nafields].name = c->d.fields[i].name;
        c->afields[c->nafields].action = c->d.fields[i].action.kind;
        c->nafields++;
    }
}

/* Reads one subject and decides its row: ECL_OK with *rec, ECL_ERR_NOT_FOUND (absent), or
 * ECL_ERR_DENIED with *why (objection, row condition); other errors are failures. */
static enum ecl_status
read_row(struct dctx *c, const uint8_t skey[ECL_SUBJECT_KEY_LEN], json_t **rec,
         enum ecl_policy_reason *why)
{
    struct ecl_purposes *obj = malloc(sizeof *obj); /* names[0..n) is all that is read */
    const char *names[ECL_OBJECTIONS_MAX];
    json_t *r = NULL;
    enum ecl_status st;

    if (obj == NULL) {
        return ECL_ERR_NOMEM;
    }
    obj->n = 0;
    st = ecl_records_get_checked(c->app->records, c->schema->name, skey, &r, obj);
    if (st == ECL_OK) {
        for (size_t i = 0; i < obj->n; i++) {
            names[i] = obj->names[i];
        }
        *why = ecl_policy_row_check(&c->d, r, names, obj->n);
        if (*why != ECL_REASON_OK) {
            st = ECL_ERR_DENIED;
        }
    }
    free(obj);
    if (st == ECL_OK || st == ECL_ERR_DENIED) {
        *rec = r; /* DENIED: the caller still needs the subject for the entry */
        return st;
    }
    json_decref(r);
    return st;
}

static void
subject_of(struct dctx *c, const json_t *rec)
{
    const json_t *v = json_object_get(rec, c->schema->fields[c->schema->subject_field].name);

    if (json_is_string(v)) {
        add_subject(c, json_string_value(v), json_string_length(v));
    }
}

/* Admits the request against its rule's limits (limits.h), reserving up to want records. */
static enum ecl_status
admit(struct dctx *c, uint64_t want, uint64_t *granted, unsigned *retry)
{
    int64_t window = 0;
    enum ecl_status st =
        ecl_api_limits_admit(c->app->agent->limits, c->r->principal->name, c->d.rule_id,
                             &c->d.limits, c->now, want, granted, &window, retry);

    if (st == ECL_OK) {
        c->reserved = *granted;
        c->admitted = 1;
        c->counted.at = c->now;
        c->counted.window = window;
    }
    return st;
}

/* ---- operations ----------------------------------------------------------------------------- */

static void
op_get(struct dctx *c)
{
    const struct ecl_disclose_req *r = c->r;
    const struct ecl_plan_field *sp;
    uint8_t skey[ECL_SUBJECT_KEY_LEN];
    enum ecl_policy_reason why = ECL_REASON_OK;
    json_t *rec = NULL;
    json_t *data = NULL;
    json_t *subj_out = NULL;
    uint64_t granted = 0;
    unsigned retry = 0;
    enum ecl_status st;
    int is_pseudo = strncmp(r->id, "ps_", 3) == 0;

    if (!is_pseudo) {
        add_subject(c, r->id, strlen(r->id));
    }
    if (c->d.effect != ECL_POLICY_ALLOW) {
        policy_refusal(c, c->d.reason);
        return;
    }
    if (admit(c, 1, &granted, &retry) != ECL_OK) {
        refuse(c, 429, "rate_limited", "A limit of this rule is reached; retry later.",
               "rate_limited", retry);
        return;
    }
    sp = subject_plan(c);
    if (is_pseudo) {
        /* look-up by pseudonym: only in the domain of the rule's own action on the subject
         * field; another domain's pseudonym resolves to nothing */
        uint8_t ikey[ECL_PSEUDO_INDEX_KEY_LEN];
        struct ecl_pseudo_target t;
        struct ecl_buf b;
        ecl_buf_init(&b, ECL_PSEUDO_VALUE_MAX);
        st = ECL_ERR_NOT_FOUND;
        if (sp != NULL && sp->action.kind == ECL_ACT_PSEUDONYMIZE &&
            ecl_transform_pseudo_index_key(&c->tctx, &sp->action, r->id, strlen(r->id), ikey) ==
                ECL_OK &&
            ecl_store_pseudo_get(c->app->store, ikey, c->schema->name, &b) == ECL_OK &&
            ecl_transform_pseudo_open(&c->tctx, ikey, b.ptr, b.len, &t) == ECL_OK &&
            strcmp(t.dataset, c->schema->name) == 0 && t.subject_key_len == ECL_SUBJECT_KEY_LEN) {
            memcpy(skey, t.subject_key, ECL_SUBJECT_KEY_LEN);
            st = ECL_OK;
        }
        ecl_buf_free(&b);
    } else {
        st = ecl_records_subject_key(c->app->records, c->schema, r->id, strlen(r->id), skey);
        if (st == ECL_ERR_INVALID || st == ECL_ERR_LIMIT) {
            st = ECL_ERR_NOT_FOUND;
        }
    }
    if (st == ECL_OK) {
        st = read_row(c, skey, &rec, &why);
    }
    if (rec != NULL && is_pseudo) {
        subject_of(c, rec);
    }
    if (st == ECL_ERR_NOT_FOUND || st == ECL_ERR_DENIED) {
        json_decref(rec);
        refuse(c, 404, "not_found", "No such record.",
               st == ECL_ERR_DENIED ? ecl_policy_reason_name(why) : "not_found", 0);
        return;
    }
    if (st != ECL_OK) {
        refuse(c, 500, "internal", "The record could not be read.", ecl_status_name(st), 0);
        return;
    }
    data = transform_record(c, rec, NULL, &subj_out);
    if (data == NULL) {
        json_decref(rec);
        refuse(c, 500, "internal", "The record could not be transformed; nothing was released.",
               "transform_failed", 0);
        return;
    }
    pseudo_offer(c, sp, subj_out, skey, 0);
    json_decref(rec);
    c->released = 1;
    fields_into_event(c, NULL);
    release_record(c, data);
}

/* Hash of what a cursor may continue. */
static void
query_bind(const struct dctx *c, const json_t *where, const json_t *fields, uint8_t out[32])
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "agent", c->r->principal->name, "dataset",
                  c->r->dataset, "purpose", c->r->purpose, "where", where, "fields", fields);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    if (s == NULL) {
        ecl_crypto_random(out, 32); /* matches no cursor */
    } else {
        ecl_crypto_blake2b(out, 32, NULL, 0, s, strlen(s));
    }
    free(s);
    json_decref(o);
}

enum { QBATCH = 100 };

static void
op_query(struct dctx *c)
{
    const struct ecl_disclose_req *r = c->r;
    struct ecl_api_agent_state *s = c->app->agent;
    struct ecl_query_where *w = NULL;
    unsigned char granted[ECL_SCHEMA_MAX_FIELDS];
    unsigned char returned[ECL_SCHEMA_MAX_FIELDS];
    uint8_t bind[32];
    uint8_t after[ECL_SUBJECT_KEY_LEN];
    uint8_t last[ECL_SUBJECT_KEY_LEN];
    uint8_t(*keys)[ECL_SUBJECT_KEY_LEN] = NULL;
    unsigned phase = 0;
    int have_after = 0;
    int have_last = 0;
    int more = 0;
    size_t limit;
    size_t examined = 0;
    uint64_t allowed = 0;
    unsigned retry = 0;
    long ic;
    const struct ecl_plan_field *sp;
    json_t *data = NULL;
    json_t *meta = NULL;
    const char *why = NULL;
    char cursor[ECL_CURSOR_MAX_LEN + 1];
    enum ecl_status st;

    if (c->d.effect != ECL_POLICY_ALLOW) {
        policy_refusal(c, c->d.reason);
        return;
    }
    memset(granted, 0, sizeof granted);
    for (size_t i = 0; i < c->d.nfields; i++) {
        granted[c->d.fields[i].schema_index] = 1;
    }
    memcpy(returned, granted, sizeof returned);
    if (r->fields != NULL) {
        memset(returned, 0, sizeof returned);
        for (size_t i = 0; i < json_array_size(r->fields); i++) {
            const char *name = json_string_value(json_array_get(r->fields, i));
            long fi = name != NULL ? ecl_schema_field_index(c->schema, name) : -1;
            if (fi < 0 || !granted[fi]) {
                refuse(c, 403, "field_not_granted",
                       "A requested field is not granted for this purpose.", NULL, 0);
                return;
            }
            returned[fi] = 1;
        }
    }
    w = calloc(1, sizeof *w);
    keys = calloc(QBATCH, sizeof *keys);
    if (w == NULL || keys == NULL) {
        refuse(c, 500, "internal", "Out of memory.", NULL, 0);
        goto out;
    }
    st = ecl_query_where_parse(r->where, c->schema, granted, w, &why);
    if (st == ECL_ERR_DENIED) {
        refuse(c, 403, "field_not_granted",
               "A condition names a field that is not granted for this purpose.", NULL, 0);
        goto out;
    }
    if (st != ECL_OK) {
        refuse(c, 400, "invalid_query", why != NULL ? why : "The query is malformed.", NULL, 0);
        goto out;
    }
    limit = c->d.limits.records_per_request;
    if (limit > ECL_HTTP_RECORDS_PER_REQUEST) {
        limit = ECL_HTTP_RECORDS_PER_REQUEST;
    }
    if (r->limit > limit) {
        refuse(c, 422, "limit_exceeded",
               "limit is above this rule's records_per_request (see explain).", NULL, 0);
        goto out;
    }
    if (r->limit > 0) {
        limit = r->limit;
    }
    query_bind(c, r->where, r->fields, bind);
    if (r->cursor != NULL) {
        if (ecl_query_cursor_decode(s->cursor_key, bind, r->cursor, strlen(r->cursor), &phase,
                                    after) != ECL_OK) {
            refuse(c, 400, "invalid_cursor", "The cursor is not a next_cursor of this query.", NULL,
                   0);
            goto out;
        }
        have_after = 1;
    }
    if (admit(c, limit, &allowed, &retry) != ECL_OK) {
        refuse(c, 429, "rate_limited", "A limit of this rule is reached; retry later.", NULL,
               retry);
        goto out;
    }
    limit = (size_t)allowed;
    ic = ecl_query_where_index_cond(w);
    if (ic < 0 && phase != 0) {
        refuse(c, 400, "invalid_cursor", "The cursor is not a next_cursor of this query.", NULL, 0);
        goto out;
    }
    sp = subject_plan(c);
    data = json_array();
    if (data == NULL) {
        refuse(c, 500, "internal", "Out of memory.", NULL, 0);
        goto out;
    }
    for (;;) {
        size_t n = 0;
        size_t want = QBATCH;
        if (ic >= 0) {
            const struct ecl_query_cond *qc = &w->conds[ic];
            size_t nv = qc->op == ECL_QOP_IN ? json_array_size(qc->value) : 1;
            const json_t *v;
            if (phase >= nv) {
                break;
            }
            v = qc->op == ECL_QOP_IN ? json_array_get(qc->value, phase) : qc->value;
            st = ecl_records_lookup(c->app->records, c->schema->name, qc->field->name,
                                    json_string_value(v), json_string_length(v),
                                    have_after ? after : NULL, want, keys, &n);
        } else {
            st = ecl_records_scan(c->app->records, c->schema->name, have_after ? after : NULL, want,
                                  keys, &n);
        }
        if (st != ECL_OK) {
            json_decref(data);
            refuse(c, 500, "internal", "The records could not be read.", ecl_status_name(st), 0);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *rec = NULL;
            json_t *out = NULL;
            json_t *subj = NULL;
            enum ecl_policy_reason rw = ECL_REASON_OK;
            if (json_array_size(data) >= limit || examined >= ECL_QUERY_SCAN_MAX) {
                more = 1;
                break;
            }
            examined++;
            memcpy(last, keys[i], sizeof last);
            have_last = 1;
            st = read_row(c, keys[i], &rec, &rw);
            if (st == ECL_ERR_NOT_FOUND || st == ECL_ERR_DENIED) {
                json_decref(rec); /* erased meanwhile, objected or outside the rule's rows */
                continue;
            }
            if (st != ECL_OK) {
                json_decref(data);
                refuse(c, 500, "internal", "The records could not be read.", ecl_status_name(st),
                       0);
                goto out;
            }
            if (!ecl_query_where_match(w, rec)) {
                json_decref(rec);
                continue;
            }
            out = transform_record(c, rec, returned, &subj);
            if (out == NULL) {
                json_decref(rec);
                json_decref(data);
                refuse(c, 500, "internal",
                       "A record could not be transformed; nothing was released.",
                       "transform_failed", 0);
                goto out;
            }
            if (returned[c->schema->subject_field]) {
                pseudo_offer(c, sp, subj, keys[i], 1);
            }
            subject_of(c, rec);
            json_decref(rec);
            json_array_append_new(data, out);
        }
        if (more) {
            break;
        }
        if (n > 0) {
            memcpy(after, keys[n - 1], sizeof after);
            have_after = 1;
        }
        if (n < want) {
            /* end of this look-up: next "in" value, or the end */
            if (ic >= 0) {
                phase++;
                have_after = 0;
                memset(last, 0, sizeof last); /* the start of the next value's look-up */
                have_last = 1;
                continue;
            }
            break;
        }
    }
    c->released = json_array_size(data);
    meta = meta_record(c, returned);
    if (meta != NULL) {
        if (more && have_last &&
            ecl_query_cursor_encode(s->cursor_key, bind, phase, last, cursor) == ECL_OK) {
            json_object_set_new(meta, "next_cursor", json_string(cursor));
        } else {
            json_object_set_new(meta, "next_cursor", json_null());
        }
        json_object_set_new(meta, "records_examined", json_integer((json_int_t)examined));
    }
    fields_into_event(c, returned);
    release(c, data, meta);
out:
    free(w);
    free(keys);
}

/* ---- dataset information -------------------------------------------------------------------- */

static json_t *
requires_list(const json_t *purpose)
{
    json_t *a = json_array();

    if (json_is_true(json_object_get(purpose, "require_on_behalf_of"))) {
        json_array_append_new(a, json_string("on_behalf_of"));
    }
    if (json_is_true(json_object_get(purpose, "require_case_id"))) {
        json_array_append_new(a, json_string("case"));
    }
    return a;
}

static json_t *
field_kinds(const json_t *fields)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)fields, k, v)
    {
        json_t *a = json_is_string(v) ? v : json_object_get(v, "action");
        json_object_set(o, k, a != NULL ? a : json_null());
    }
    return o;
}

/* One grant as {purpose|dataset, [rule_id], operations, requires, fields, obligations}. */
static json_t *
grant_view(const json_t *purpose, const json_t *grant, int for_explain)
{
    json_t *o = json_object();
    json_t *ops = json_pack("[s, s]", "get", "query");

    if (for_explain) {
        json_object_set(o, "dataset", json_object_get(grant, "dataset"));
        json_object_set(o, "rule_id", json_object_get(grant, "rule"));
        json_object_set(o, "limits", json_object_get(grant, "limits"));
        if (json_object_get(grant, "valid") != NULL) {
            json_object_set(o, "valid", json_object_get(grant, "valid"));
        }
        json_object_set(o, "field_actions", json_object_get(grant, "fields"));
    } else {
        json_object_set(o, "purpose", json_object_get(purpose, "purpose"));
    }
    json_object_set_new(o, "operations", ops);
    json_object_set_new(o, "requires", requires_list(purpose));
    json_object_set_new(o, "fields", field_kinds(json_object_get(grant, "fields")));
    json_object_set_new(o, "obligations",
                        ecl_api_obligations_list(json_object_get(purpose, "obligations")));
    return o;
}

static void
op_info(struct dctx *c)
{
    const struct ecl_disclose_req *r = c->r;
    json_t *ex = NULL;
    json_t *data = NULL;
    json_t *purposes;
    enum ecl_status st;

    if (r->op == ECL_DISCLOSE_LIST_DATASETS) {
        /* the same view as the MCP tools/list descriptions (view.h) */
        if (ecl_api_view_datasets(c->app, c->view->policy, r->principal->name, c->now, &data) !=
            ECL_OK) {
            refuse(c, 500, "internal", "The datasets could not be listed.", NULL, 0);
            return;
        }
        release(c, data, meta_base(c));
        return;
    }
    st = ecl_policy_explain(c->view->policy, r->principal->name, r->purpose, &ex);
    if (st == ECL_ERR_NOT_FOUND) {
        refuse(c, 403, r->purpose != NULL ? "purpose_not_allowed_for_agent" : "unknown_agent",
               "The policy does not allow this purpose for this agent.", NULL, 0);
        return;
    }
    if (st != ECL_OK) {
        refuse(c, 500, "internal", "The policy could not be explained.", NULL, 0);
        return;
    }
    purposes = json_object_get(ex, "purposes");
    if (r->op == ECL_DISCLOSE_EXPLAIN) {
        json_t *list = json_array();
        const json_t *pu = json_array_get(purposes, 0);
        const json_t *g = json_object_get(pu, "grants");
        for (size_t i = 0; i < json_array_size(g); i++) {
            json_array_append_new(list, grant_view(pu, json_array_get(g, i), 1));
        }
        data = json_pack("{s:s, s:O, s:O, s:o}", "purpose", r->purpose, "legal_basis",
                         json_object_get(pu, "legal_basis"), "obligation_terms",
                         json_object_get(pu, "obligations"), "datasets", list);
    } else {
        /* datasets (in the store) with their grants, in name order */
        json_t *names = NULL;
        if (ecl_records_dataset_list(c->app->records, &names) != ECL_OK) {
            json_decref(ex);
            refuse(c, 500, "internal", "The datasets could not be listed.", NULL, 0);
            return;
        }
        data = json_array();
        for (size_t di = 0; di < json_array_size(names); di++) {
            const char *dn = json_string_value(json_array_get(names, di));
            const struct ecl_schema *sc = NULL;
            json_t *plist = json_array();
            unsigned char seen[ECL_SCHEMA_MAX_FIELDS];
            if (r->op == ECL_DISCLOSE_DESCRIBE && strcmp(dn, r->dataset) != 0) {
                json_decref(plist);
                continue;
            }
            memset(seen, 0, sizeof seen);
            if (ecl_records_dataset_get(c->app->records, dn, &sc) != ECL_OK) {
                json_decref(plist);
                continue;
            }
            for (size_t pi = 0; pi < json_array_size(purposes); pi++) {
                const json_t *pu = json_array_get(purposes, pi);
                const json_t *g = json_object_get(pu, "grants");
                for (size_t gi = 0; gi < json_array_size(g); gi++) {
                    const json_t *gr = json_array_get(g, gi);
                    const char *k;
                    json_t *v;
                    if (strcmp(json_string_value(json_object_get(gr, "dataset")), dn) != 0) {
                        continue;
                    }
                    json_array_append_new(plist, grant_view(pu, gr, 0));
                    json_object_foreach(json_object_get(gr, "fields"), k, v)
                    {
                        long fi = ecl_schema_field_index(sc, k);
                        if (fi >= 0) {
                            seen[fi] = 1;
                        }
                    }
                }
            }
            if (json_array_size(plist) == 0) {
                json_decref(plist);
                continue;
            }
            json_t *d = json_pack("{s:s, s:s?, s:o}", "name", dn, "description", sc->description,
                                  "purposes", plist);
            if (r->op == ECL_DISCLOSE_DESCRIBE) {
                /* only fields granted for some purpose: nothing about the others */
                json_t *fl = json_array();
                for (size_t fi = 0; fi < sc->nfields; fi++) {
                    const struct ecl_field *f = &sc->fields[fi];
                    if (!seen[fi]) {
                        continue;
                    }
                    json_array_append_new(
                        fl, json_pack("{s:s, s:s, s:s, s:s?, s:b}", "name", f->name, "type",
                                      ecl_field_type_name(f->type), "classification",
                                      ecl_field_class_name(f->classification), "description",
                                      f->description, "indexed", f->indexed));
                }
                json_object_set_new(d, "fields", fl);
                json_object_set_new(d, "subject_field",
                                    seen[sc->subject_field]
                                        ? json_string(sc->fields[sc->subject_field].name)
                                        : json_null());
            }
            json_array_append_new(data, d);
        }
        json_decref(names);
        if (r->op == ECL_DISCLOSE_DESCRIBE) {
            json_t *one = json_incref(json_array_get(data, 0));
            json_decref(data);
            data = one;
            if (data == NULL) {
                json_decref(ex);
                refuse(c, 403, "no_rule", ecl_policy_reason_text(ECL_REASON_NO_RULE), NULL, 0);
                return;
            }
        }
    }
    json_decref(ex);
    release(c, data, meta_base(c));
}

/* ---- entry point ---------------------------------------------------------------------------- */

static enum ecl_audit_kind
kind_of(enum ecl_disclose_op op)
{
    switch (op) {
    case ECL_DISCLOSE_GET:
        return ECL_AUDIT_RECORD_READ;
    case ECL_DISCLOSE_QUERY:
        return ECL_AUDIT_RECORD_QUERY;
    case ECL_DISCLOSE_LIST_DATASETS:
    case ECL_DISCLOSE_DESCRIBE:
    case ECL_DISCLOSE_EXPLAIN:
        break;
    }
    return ECL_AUDIT_DATASET_INFO;
}

void
ecl_disclose(struct ecl_app *app, const struct ecl_disclose_req *r, ecl_disclose_done_fn done,
             void *arg)
{
    struct dctx *c = malloc(sizeof *c);
    struct ecl_policy_facts facts;
    int needs_dataset =
        r->op == ECL_DISCLOSE_GET || r->op == ECL_DISCLOSE_QUERY || r->op == ECL_DISCLOSE_DESCRIBE;
    int needs_purpose =
        r->op == ECL_DISCLOSE_GET || r->op == ECL_DISCLOSE_QUERY || r->op == ECL_DISCLOSE_EXPLAIN;

    if (c == NULL) {
        result_failed(done, arg, 500, "internal", "Out of memory.", 0);
        return;
    }
    memset(c, 0, DCTX_ZEROED);
    if (r->principal == NULL || app->agent == NULL) {
        free(c);
        result_failed(done, arg, 500, "internal", "No authenticated agent.", 0);
        return;
    }
    c->app = app;
    c->r = r;
    c->done = done;
    c->arg = arg;
    c->now = app->now();
    c->ev.kind = kind_of(r->op);
    c->ev.channel = r->channel;
    ecl_hex(r->principal->id, sizeof r->principal->id, c->idbuf);
    c->ev.principal = c->idbuf;
    c->ev.role = ecl_role_name(r->principal->role);
    c->ev.request_id = r->request_id;
    c->view = ecl_policy_holder_acquire(app->policy);
    if (c->view != NULL) {
        c->ev.policy_version = c->view->version;
        if (ecl_unhex(c->view->hash, strlen(c->view->hash), c->phash, ECL_HASH_LEN) == ECL_OK) {
            c->ev.policy_hash = c->phash;
        }
    }
    /* the request's own shape first: nothing from it is echoed, and the entry records only
     * names that passed these checks */
    if (!actor_ref_ok(r->official) || !actor_ref_ok(r->case_ref)) {
        refuse(c, 400, "invalid_header",
               "On-Behalf-Of and X-Case-Id take 1 to 128 printable ASCII characters.", NULL, 0);
        goto out;
    }
    c->ev.official = r->official;
    c->ev.case_ref = r->case_ref;
    if (needs_purpose && !name_ok(r->purpose)) {
        refuse(c, 400, "purpose_required", "A purpose is required.", NULL, 0);
        goto out;
    }
    if (r->purpose != NULL && !purpose_id_ok(r->purpose)) {
        refuse(c, 400, "invalid_purpose", "The purpose is not a purpose id.", NULL, 0);
        goto out;
    }
    c->ev.purpose = r->purpose;
    if (needs_dataset && !name_ok(r->dataset)) {
        refuse(c, 400, "invalid_dataset", "The dataset is not a dataset name.", NULL, 0);
        goto out;
    }
    c->ev.dataset = needs_dataset ? r->dataset : NULL;
    if (r->op == ECL_DISCLOSE_GET &&
        (r->id == NULL || r->id[0] == 0 || strlen(r->id) > ECL_SUBJECT_ID_MAX_LEN)) {
        refuse(c, 404, "not_found", "No such record.", "invalid_id", 0);
        goto out;
    }
    if (c->view == NULL) {
        refuse(c, r->op == ECL_DISCLOSE_GET ? 404 : 403,
               r->op == ECL_DISCLOSE_GET ? "not_found" : "no_policy",
               "No policy is active: everything is refused.", "no_policy", 0);
        goto out;
    }
    ecl_transform_ctx_init(&c->tctx, app->kr, r->principal->name,
                           r->purpose != NULL ? r->purpose : "", c->now);
    c->tctx_live = 1;
    if (r->op == ECL_DISCLOSE_GET || r->op == ECL_DISCLOSE_QUERY) {
        memset(&facts, 0, sizeof facts);
        facts.agent = r->principal->name;
        facts.purpose = r->purpose;
        facts.dataset = r->dataset;
        facts.flags = (r->official != NULL ? ECL_FACT_ON_BEHALF_OF : 0u) |
                      (r->case_ref != NULL ? ECL_FACT_CASE_ID : 0u);
        facts.now = c->now;
        ecl_policy_eval(c->view->policy, &facts, &c->d);
        c->ev.rule_id = c->d.rule_id;
        if (ecl_records_dataset_get(app->records, r->dataset, &c->schema) != ECL_OK) {
            c->schema = NULL;
            if (c->d.effect == ECL_POLICY_ALLOW) {
                /* a rule for a dataset that is not in the store */
                policy_refusal(c, ECL_REASON_NO_RULE);
                goto out;
            }
        }
        if (c->schema == NULL) {
            policy_refusal(c, c->d.reason);
            goto out;
        }
        if (r->op == ECL_DISCLOSE_GET) {
            op_get(c);
        } else {
            op_query(c);
        }
    } else {
        op_info(c);
    }
out:
    if (c->reserved > c->released && c->d.rule_id != NULL) {
        ecl_api_limits_return(app->agent->limits, r->principal->name, c->d.rule_id, c->now,
                              c->reserved - c->released);
    }
    if (c->tctx_live) {
        ecl_transform_ctx_free(&c->tctx);
    }
    if (c->view != NULL) {
        ecl_policy_holder_release(app->policy, c->view);
    }
    for (size_t i = 0; i < c->nsubjects; i++) {
        free(c->subjects[i]);
    }
    free(c->subjects);
    if (c->prows != &c->prow1) {
        free(c->prows);
    }
    ecl_wipe(c, DCTX_ZEROED); /* the rest: see struct dctx */
    free(c);
}
