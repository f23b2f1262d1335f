/* Reading the audit log: entries, filtered listing, raw leaves, checkpoints and proofs.  Each
 * call reads one LMDB snapshot and needs no writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entry.h"
#include "store/audit_db.h"

void
ecl_audit_entry_free(struct ecl_audit_entry *e)
{
    if (e != NULL) {
        json_decref(e->payload);
        e->payload = NULL;
    }
}

json_t *
ecl_audit_entry_to_json(const struct ecl_audit_entry *e)
{
    json_t *o = json_deep_copy(e->payload);
    struct tm tm;
    time_t secs = (time_t)(e->time_ms / 1000);
    char when[96];

    if (o == NULL) {
        return NULL;
    }
    gmtime_r(&secs, &tm);
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(e->time_ms % 1000));
    if (json_object_set_new(o, "seq", json_integer((json_int_t)e->seq)) != 0 ||
        json_object_set_new(o, "time", json_string(when)) != 0 ||
        json_object_set_new(o, "time_ms", json_integer((json_int_t)e->time_ms)) != 0 ||
        json_object_set_new(o, "key_version", json_integer(e->key_version)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static enum ecl_status
open_entry(struct ecl_audit_txn *t, const struct ecl_keyring *kr, uint64_t seq,
           struct ecl_audit_entry *out)
{
    struct ecl_view v;
    struct ecl_audit_header h;
    json_t *payload = NULL;

    ECL_GUARD(ecl_audit_db_entry(t, seq, &v));
    ECL_GUARD(ecl_audit_leaf_open(kr, v.ptr, v.len, &h, &payload));
    if (h.seq != seq) {
        json_decref(payload);
        return ECL_ERR_INVALID;
    }
    out->seq = seq;
    out->time_ms = h.time_ms;
    out->key_version = h.key_version;
    out->payload = payload;
    return ECL_OK;
}

enum ecl_status
ecl_audit_entry_get(struct ecl_store *s, const struct ecl_keyring *kr, uint64_t seq,
                    struct ecl_audit_entry *out)
{
    struct ecl_audit_txn *t = NULL;
    enum ecl_status st;

    if (!ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = open_entry(t, kr, seq, out);
    ecl_audit_db_end(t);
    return st;
}

enum ecl_status
ecl_audit_each_back(struct ecl_store *s, const struct ecl_keyring *kr, ecl_audit_entry_fn fn,
                    void *arg)
{
    struct ecl_audit_txn *t = NULL;
    struct ecl_audit_entry e;
    uint64_t size = 0;
    uint64_t later_ms = UINT64_MAX;
    enum ecl_status st;

    if (!ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = ecl_audit_db_size(t, &size);
    for (uint64_t seq = size; st == ECL_OK && seq > 0; seq--) {
        int stop;
        e.payload = NULL;
        st = open_entry(t, kr, seq - 1, &e);
        if (st == ECL_ERR_NOT_FOUND) {
            st = ECL_ERR_INVALID; /* below the recorded size: an entry is missing */
        }
        if (st == ECL_OK && e.time_ms > later_ms) {
            st = ECL_ERR_INVALID; /* times never decrease along the log */
        }
        if (st != ECL_OK) {
            ecl_audit_entry_free(&e);
            break;
        }
        later_ms = e.time_ms;
        stop = fn(arg, &e);
        ecl_audit_entry_free(&e);
        if (stop) {
            break;
        }
    }
    ecl_audit_db_end(t);
    return st;
}

static int
str_is(const json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL && strcmp(v, want) == 0;
}

static int
has_subject(const json_t *o, const char *subject)
{
    const json_t *arr = json_object_get(o, "subjects");
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        const char *sv = json_string_value(v);
        if (sv != NULL && strcmp(sv, subject) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
matches(const struct ecl_audit_filter *f, const struct ecl_audit_entry *e)
{
    const json_t *o = e->payload;

    return (f->principal == NULL || str_is(o, "principal", f->principal)) &&
           (f->subject == NULL || has_subject(o, f->subject)) &&
           (f->purpose == NULL || str_is(o, "purpose", f->purpose)) &&
           (f->dataset == NULL || str_is(o, "dataset", f->dataset)) &&
           (f->kind == NULL || str_is(o, "kind", f->kind)) &&
           (f->decision == NULL || str_is(o, "decision", f->decision)) &&
           e->time_ms >= f->since_ms && (f->until_ms == 0 || e->time_ms < f->until_ms);
}

struct list_ctx {
    struct ecl_audit_txn *t;
    const struct ecl_keyring *kr;
    const struct ecl_audit_filter *f;
    const uint8_t *token; /* NULL: scanning entries */
    size_t limit;
    size_t found;
    size_t examined;
    json_t *items;
    uint64_t next;
    enum ecl_status st;
};

static int
list_one(struct list_ctx *c, uint64_t seq)
{
    struct ecl_audit_entry e;
    json_t *j;

    if (c->found >= c->limit || c->examined >= ECL_AUDIT_SCAN_MAX) {
        c->next = seq; /* resume here */
        return 1;
    }
    c->examined++;
    c->st = open_entry(c->t, c->kr, seq, &e);
    if (c->st != ECL_OK) {
        return 1;
    }
    if (matches(c->f, &e)) {
        j = ecl_audit_entry_to_json(&e);
        if (j == NULL || json_array_append_new(c->items, j) != 0) {
            c->st = ECL_ERR_NOMEM;
        }
        c->found++;
    }
    ecl_audit_entry_free(&e);
    return c->st != ECL_OK;
}

static int
list_entry_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    (void)val;
    if (key.len != 8) {
        ((struct list_ctx *)arg)->st = ECL_ERR_INVALID;
        return 1;
    }
    return list_one(arg, ecl_get_u64(key.ptr));
}

static int
list_index_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    struct list_ctx *c = arg;

    (void)val;
    if (key.len != ECL_AUDIT_IDX_KEY_LEN || memcmp(key.ptr, c->token, ECL_AUDIT_TOKEN_LEN) != 0) {
        return 1; /* past this token's rows */
    }
    return list_one(c, ecl_get_u64(key.ptr + ECL_AUDIT_TOKEN_LEN));
}

enum ecl_status
ecl_audit_list(struct ecl_store *s, const struct ecl_keyring *kr, const struct ecl_audit_filter *f,
               uint64_t cursor, size_t limit, json_t *items, uint64_t *next)
{
    const uint8_t *key = ecl_keyring_key(kr, ECL_KEY_AUDIT_INDEX);
    uint8_t from[ECL_AUDIT_IDX_KEY_LEN];
    uint8_t token[ECL_AUDIT_TOKEN_LEN];
    struct list_ctx c;
    enum ecl_status st;

    if (key == NULL) {
        return ECL_ERR_PERM;
    }
    if (limit == 0 || limit > ECL_AUDIT_LIST_MAX || !json_is_array(items) ||
        (f->subject != NULL && strlen(f->subject) > ECL_SUBJECT_ID_MAX_LEN) ||
        (f->principal != NULL && strlen(f->principal) > ECL_AUDIT_TEXT_MAX_LEN)) {
        return ECL_ERR_INVALID;
    }
    memset(&c, 0, sizeof c);
    c.kr = kr;
    c.f = f;
    c.limit = limit;
    c.items = items;
    c.next = UINT64_MAX;
    ECL_GUARD(ecl_audit_db_begin(s, &c.t));
    if (f->subject != NULL || f->principal != NULL) {
        /* the subject index is the narrower one when both are given */
        int subj = f->subject != NULL;
        const char *id = subj ? f->subject : f->principal;
        ecl_audit_token(key, subj ? ECL_AUDIT_TOK_SUBJECT : ECL_AUDIT_TOK_PRINCIPAL, id, strlen(id),
                        token);
        c.token = token;
        memcpy(from, token, ECL_AUDIT_TOKEN_LEN);
        ecl_put_u64(from + ECL_AUDIT_TOKEN_LEN, cursor);
        st = ecl_audit_db_scan(c.t, subj ? ECL_AUDIT_T_IDX_SUBJECT : ECL_AUDIT_T_IDX_PRINCIPAL,
                               from, sizeof from, list_index_row, &c);
    } else {
        ecl_put_u64(from, cursor);
        st = ecl_audit_db_scan(c.t, ECL_AUDIT_T_ENTRIES, from, 8, list_entry_row, &c);
    }
    ecl_audit_db_end(c.t);
    if (st == ECL_OK) {
        st = c.st;
    }
    if (st == ECL_OK) {
        *next = c.next;
    }
    return st;
}

struct leaves_ctx {
    uint64_t want;
    uint64_t end;
    ecl_audit_leaf_fn fn;
    void *arg;
    enum ecl_status st;
};

static int
leaf_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    struct leaves_ctx *c = arg;

    if (c->want >= c->end) {
        return 1;
    }
    if (key.len != 8 || ecl_get_u64(key.ptr) != c->want) {
        c->st = ECL_ERR_NOT_FOUND; /* a gap: the caller's verifier will say more */
        return 1;
    }
    c->st = c->fn(c->arg, c->want, val.ptr, val.len);
    c->want++;
    return c->st != ECL_OK;
}

enum ecl_status
ecl_audit_leaves(struct ecl_store *s, uint64_t start, uint64_t end, ecl_audit_leaf_fn fn, void *arg)
{
    struct ecl_audit_txn *t = NULL;
    struct leaves_ctx c = {start, end, fn, arg, ECL_OK};
    uint8_t from[8];
    enum ecl_status st;

    if (end < start || end - start > ECL_AUDIT_LEAVES_PER_CALL) {
        return ECL_ERR_LIMIT;
    }
    if (end == start) {
        return ECL_OK;
    }
    ECL_GUARD(ecl_audit_db_begin(s, &t));
    ecl_put_u64(from, start);
    st = ecl_audit_db_scan(t, ECL_AUDIT_T_ENTRIES, from, sizeof from, leaf_row, &c);
    ecl_audit_db_end(t);
    if (st == ECL_OK) {
        st = c.st;
    }
    if (st == ECL_OK && c.want != end) {
        st = ECL_ERR_NOT_FOUND;
    }
    return st;
}

enum ecl_status
ecl_audit_checkpoint_latest(struct ecl_store *s, struct ecl_buf *out)
{
    struct ecl_audit_txn *t = NULL;
    struct ecl_view note;
    uint64_t size = 0;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = ecl_audit_db_checkpoint_last(t, &size, &note);
    if (st == ECL_OK) {
        st = ecl_buf_append(out, note.ptr, note.len);
    }
    ecl_audit_db_end(t);
    return st;
}

enum ecl_status
ecl_audit_tree_size(struct ecl_store *s, uint64_t *out)
{
    struct ecl_audit_txn *t = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = ecl_audit_db_size(t, out);
    ecl_audit_db_end(t);
    return st;
}

static enum ecl_status
node_get(void *arg, unsigned level, uint64_t index, uint8_t out[ECL_HASH_LEN])
{
    return ecl_audit_db_node(arg, level, index, out);
}

enum proof_kind { PROOF_INCLUSION, PROOF_CONSISTENCY, PROOF_ROOT };

static enum ecl_status
proof(struct ecl_store *s, enum proof_kind kind, uint64_t a, uint64_t b,
      uint8_t (*out)[ECL_HASH_LEN], size_t *n)
{
    struct ecl_audit_txn *t = NULL;
    uint64_t size = 0;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = ecl_audit_db_size(t, &size);
    if (st == ECL_OK && b > size) {
        st = ECL_ERR_INVALID;
    }
    if (st == ECL_OK) {
        switch (kind) {
        case PROOF_INCLUSION:
            st = ecl_merkle_inclusion_proof(a, b, node_get, t, out, ECL_MERKLE_MAX_DEPTH, n);
            break;
        case PROOF_CONSISTENCY:
            st = ecl_merkle_consistency_proof(a, b, node_get, t, out, ECL_MERKLE_MAX_DEPTH, n);
            break;
        case PROOF_ROOT:
            st = ecl_merkle_root(b, node_get, t, out[0]);
            break;
        }
    }
    ecl_audit_db_end(t);
    return st;
}

enum ecl_status
ecl_audit_proof_inclusion(struct ecl_store *s, uint64_t seq, uint64_t size,
                          uint8_t (*out)[ECL_HASH_LEN], size_t *nproof)
{
    return proof(s, PROOF_INCLUSION, seq, size, out, nproof);
}

enum ecl_status
ecl_audit_proof_consistency(struct ecl_store *s, uint64_t size1, uint64_t size2,
                            uint8_t (*out)[ECL_HASH_LEN], size_t *nproof)
{
    return proof(s, PROOF_CONSISTENCY, size1, size2, out, nproof);
}

enum ecl_status
ecl_audit_root(struct ecl_store *s, uint64_t size, uint8_t out[ECL_HASH_LEN])
{
    uint8_t(*one)[ECL_HASH_LEN] = (uint8_t(*)[ECL_HASH_LEN])out;
    size_t n = 0;

    return proof(s, PROOF_ROOT, 0, size, one, &n);
}
