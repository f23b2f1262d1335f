/* Four-eyes approvals in the `approvals` database.  See approvals.h for the layout. */
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "ecl/schema.h"
#include "store_internal.h"

static const char *const kind_names[] = {
    [ECL_APPROVAL_POLICY] = "policy",
    [ECL_APPROVAL_REIDENTIFY] = "reidentify",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == ECL_APPROVAL_KIND_COUNT, "kinds");

static const char *const state_names[] = {
    [ECL_APPROVAL_PENDING] = "pending",   [ECL_APPROVAL_APPROVED] = "approved",
    [ECL_APPROVAL_REJECTED] = "rejected", [ECL_APPROVAL_DONE] = "done",
    [ECL_APPROVAL_FAILED] = "failed",     [ECL_APPROVAL_EXPIRED] = "expired",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == ECL_APPROVAL_STATE_COUNT, "states");

const char *
ecl_approval_kind_name(enum ecl_approval_kind k)
{
    return (unsigned)k < ECL_APPROVAL_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *
ecl_approval_state_name(enum ecl_approval_state s)
{
    return (unsigned)s < ECL_APPROVAL_STATE_COUNT ? state_names[s] : "unknown";
}

enum ecl_approval_state
ecl_approval_state_at(const struct ecl_approval *a, int64_t now)
{
    switch (a->state) {
    case ECL_APPROVAL_PENDING:
    case ECL_APPROVAL_APPROVED:
        return now >= a->expires ? ECL_APPROVAL_EXPIRED : a->state;
    case ECL_APPROVAL_REJECTED:
    case ECL_APPROVAL_DONE:
    case ECL_APPROVAL_FAILED:
    case ECL_APPROVAL_EXPIRED:
        return a->state;
    }
    return a->state;
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Copies a string member of at most cap - 1 bytes into out. */
static int
copy_str(const json_t *o, const char *key, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || json_string_length(v) >= cap) {
        return 0;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static int
get_int(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v)) {
        return 0;
    }
    *out = (int64_t)json_integer_value(v);
    return 1;
}

/* Parses a stored value; the payload (optional) is appended to payload. */
static enum ecl_status
decode(const MDB_val *k, const MDB_val *v, struct ecl_approval *out, struct ecl_buf *payload)
{
    const char *why = NULL;
    json_t *o = ecl_json_load(v->mv_data, v->mv_size, 2, &why, NULL);
    struct ecl_approval a;
    char kind[16];
    char state[16];
    const json_t *pl;
    int ki;
    int si;
    enum ecl_status st = ECL_ERR_INTERNAL;

    if (o == NULL || k->mv_size != ECL_APPROVAL_ID_LEN) {
        json_decref(o);
        return ECL_ERR_INTERNAL;
    }
    memset(&a, 0, sizeof a);
    ecl_hex(k->mv_data, ECL_APPROVAL_ID_LEN, a.id);
    pl = json_object_get(o, "payload");
    if (!copy_str(o, "kind", kind, sizeof kind) || !copy_str(o, "state", state, sizeof state) ||
        !copy_str(o, "requester", a.requester, sizeof a.requester) ||
        !copy_str(o, "requester_name", a.requester_name, sizeof a.requester_name) ||
        !copy_str(o, "approver", a.approver, sizeof a.approver) ||
        !copy_str(o, "approver_name", a.approver_name, sizeof a.approver_name) ||
        !copy_str(o, "base_hash", a.base_hash, sizeof a.base_hash) ||
        !get_int(o, "created", &a.created) || !get_int(o, "expires", &a.expires) ||
        !get_int(o, "decided", &a.decided) || !json_is_string(pl)) {
        goto out;
    }
    ki = name_index(kind_names, ECL_APPROVAL_KIND_COUNT, kind);
    si = name_index(state_names, ECL_APPROVAL_STATE_COUNT, state);
    if (ki < 0 || si < 0) {
        goto out;
    }
    a.kind = (enum ecl_approval_kind)ki;
    a.state = (enum ecl_approval_state)si;
    st = ECL_OK;
    if (payload != NULL) {
        st = ecl_buf_append(payload, json_string_value(pl), json_string_length(pl));
    }
    if (st == ECL_OK) {
        *out = a;
    }
out:
    json_decref(o);
    return st;
}

/* Encodes a row and its payload and writes it under key. */
static enum ecl_status
encode_put(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, const struct ecl_approval *a,
           const char *payload, size_t payload_len, unsigned flags)
{
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s%}", "kind", ecl_approval_kind_name(a->kind),
        "state", ecl_approval_state_name(a->state), "requester", a->requester, "requester_name",
        a->requester_name, "approver", a->approver, "approver_name", a->approver_name, "base_hash",
        a->base_hash, "created", (json_int_t)a->created, "expires", (json_int_t)a->expires,
        "decided", (json_int_t)a->decided, "payload", payload, payload_len);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    MDB_val v;
    enum ecl_status st = ECL_ERR_NOMEM;

    json_decref(o);
    if (s != NULL) {
        v.mv_size = strlen(s);
        v.mv_data = s;
        st = ecl_store_mdb_status(mdb_put(txn, dbi, (MDB_val *)key, &v, flags));
        free(s);
    }
    return st;
}

/* Deletes finished approvals older than the retention; counts those that stay. */
static enum ecl_status
prune(MDB_txn *txn, MDB_dbi dbi, int64_t now, size_t *kept)
{
    MDB_cursor *c = NULL;
    MDB_val k;
    MDB_val v;
    struct ecl_approval a;
    size_t n = 0;
    int rc;
    enum ecl_status st;

    ECL_GUARD(ecl_store_mdb_status(mdb_cursor_open(txn, dbi, &c)));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        st = decode(&k, &v, &a, NULL);
        if (st != ECL_OK) {
            mdb_cursor_close(c);
            return st;
        }
        int64_t end = a.decided > 0 ? a.decided : a.expires;
        if (ecl_approval_state_at(&a, now) != ECL_APPROVAL_PENDING &&
            ecl_approval_state_at(&a, now) != ECL_APPROVAL_APPROVED &&
            end <= now - ECL_APPROVAL_RETAIN_S) {
            rc = mdb_cursor_del(c, 0);
            if (rc != 0) {
                mdb_cursor_close(c);
                return ecl_store_mdb_status(rc);
            }
            continue;
        }
        n++;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) {
        return ecl_store_mdb_status(rc);
    }
    *kept = n;
    return ECL_OK;
}

enum ecl_status
ecl_approval_create(struct ecl_store *s, const struct ecl_approval *a, const char *payload,
                    size_t payload_len, int64_t now, struct ecl_approval *out)
{
    struct ecl_approval row = *a;
    uint8_t id[ECL_APPROVAL_ID_LEN];
    MDB_val key = {sizeof id, id};
    MDB_txn *txn = NULL;
    size_t kept = 0;
    enum ecl_status st;

    if (s->readonly || now > INT64_MAX - ECL_APPROVAL_TTL_S) {
        return ECL_ERR_INVALID;
    }
    ecl_crypto_random(id, sizeof id);
    ecl_hex(id, sizeof id, row.id);
    row.state = ECL_APPROVAL_PENDING;
    row.created = now;
    row.expires = now + ECL_APPROVAL_TTL_S;
    row.decided = 0;
    row.approver[0] = 0;
    row.approver_name[0] = 0;
    ECL_GUARD(ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, 0, &txn)));
    st = prune(txn, s->approvals, now, &kept);
    if (st == ECL_OK && kept >= ECL_APPROVALS_MAX) {
        st = ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        st = encode_put(txn, s->approvals, &key, &row, payload, payload_len, MDB_NOOVERWRITE);
    }
    if (st == ECL_OK) {
        st = ecl_store_mdb_status(mdb_txn_commit(txn));
    } else {
        mdb_txn_abort(txn);
    }
    if (st == ECL_OK) {
        *out = row;
    }
    return st;
}

static int
parse_id(const char *id, uint8_t out[ECL_APPROVAL_ID_LEN])
{
    return id != NULL && strlen(id) == 2 * ECL_APPROVAL_ID_LEN &&
           ecl_unhex(id, strlen(id), out, ECL_APPROVAL_ID_LEN) == ECL_OK;
}

enum ecl_status
ecl_approval_get(struct ecl_store *s, const char *id, struct ecl_approval *out,
                 struct ecl_buf *payload)
{
    uint8_t kb[ECL_APPROVAL_ID_LEN];
    MDB_val k = {sizeof kb, kb};
    MDB_val v;
    MDB_txn *txn = NULL;
    int rc;
    enum ecl_status st;

    if (!parse_id(id, kb)) {
        return ECL_ERR_NOT_FOUND;
    }
    ECL_GUARD(ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn)));
    rc = mdb_get(txn, s->approvals, &k, &v);
    st = rc == 0 ? decode(&k, &v, out, payload) : ecl_store_mdb_status(rc);
    mdb_txn_abort(txn);
    return st;
}

enum ecl_status
ecl_approval_transition(struct ecl_store *s, const char *id, enum ecl_approval_state from,
                        enum ecl_approval_state to, const char *approver, const char *approver_name,
                        int64_t now, struct ecl_approval *out)
{
    uint8_t kb[ECL_APPROVAL_ID_LEN];
    MDB_val k = {sizeof kb, kb};
    MDB_val v;
    MDB_txn *txn = NULL;
    struct ecl_approval a;
    struct ecl_buf payload;
    int rc;
    enum ecl_status st;

    if (!parse_id(id, kb)) {
        return ECL_ERR_NOT_FOUND;
    }
    if ((approver != NULL && strlen(approver) >= sizeof a.approver) ||
        (approver_name != NULL && strlen(approver_name) >= sizeof a.approver_name)) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&payload, ECL_POLICY_MAX_BYTES + ECL_DPO_JSON_MAX_BYTES);
    st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, 0, &txn));
    if (st != ECL_OK) {
        txn = NULL;
        goto out;
    }
    rc = mdb_get(txn, s->approvals, &k, &v);
    st = rc == 0 ? decode(&k, &v, &a, &payload) : ecl_store_mdb_status(rc);
    if (st == ECL_OK && (a.state != from || ecl_approval_state_at(&a, now) != from)) {
        st = ECL_ERR_CONFLICT; /* decided, used or expired already */
    }
    if (st != ECL_OK) {
        goto out;
    }
    a.state = to;
    if (approver != NULL) {
        memcpy(a.approver, approver, strlen(approver) + 1);
        a.decided = now;
    }
    if (approver_name != NULL) {
        memcpy(a.approver_name, approver_name, strlen(approver_name) + 1);
    }
    st = encode_put(txn, s->approvals, &k, &a, payload.len > 0 ? (const char *)payload.ptr : "",
                    payload.len, 0);
    if (st == ECL_OK) {
        st = ecl_store_mdb_status(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (st == ECL_OK && out != NULL) {
        *out = a;
    }
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    ecl_buf_free(&payload);
    return st;
}

enum ecl_status
ecl_approval_list(struct ecl_store *s, ecl_approval_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k;
    MDB_val v;
    struct ecl_approval a;
    int rc;
    enum ecl_status st = ECL_OK;

    ECL_GUARD(ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn)));
    rc = mdb_cursor_open(txn, s->approvals, &c);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ecl_store_mdb_status(rc);
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && st == ECL_OK;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        st = decode(&k, &v, &a, NULL);
        if (st == ECL_OK) {
            st = fn(arg, &a);
        }
    }
    if (st == ECL_OK && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return st;
}
