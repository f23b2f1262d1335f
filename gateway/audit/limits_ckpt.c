/* The rate-limit counters as the committed entries define them, and their sealed checkpoint in
 * the audit meta table (audit.h, docs/audit-format.md "Rate-limit checkpoint").
 *
 * Stored value:  "ECLL" || key version (u32 BE) || next (u64 BE) || nonce || ciphertext || tag
 * sealed with XChaCha20-Poly1305 under BLAKE2b-256(key = audit-entry key of that version,
 * msg = LABEL), associated data LABEL || the 16 header bytes (so the covered seq cannot be
 * changed without breaking the tag).  Plaintext: {"v":1,"next":N,"at":latest request clock,
 * "c":[[principal, rule, day_start, day_count, minute_start, minute_count], ...]}. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "limits_ckpt.h"
#include "store/audit_db.h"

#define LABEL "ecluse audit limits checkpoint v1"
#define MAGIC "ECLL"

enum { BUCKETS = 1024, HDR_LEN = 16, DAY_S = 86400, MINUTE_S = 60, PRINCIPAL_HEX = 16 };

struct lnode {
    struct lnode *next;
    char principal[ECL_NAME_MAX_LEN + 1];
    char rule[ECL_NAME_MAX_LEN + 1];
    int64_t day_start;
    uint64_t day_count;
    int64_t minute_start;
    uint32_t minute_count;
};

struct ecl_audit_limits {
    struct lnode *b[BUCKETS];
    size_t n;
    int64_t latest;
};

static int64_t
day_of(int64_t t)
{
    return t - (t % DAY_S + DAY_S) % DAY_S;
}

enum ecl_status
ecl_audit_limits_new(struct ecl_audit_limits **out)
{
    struct ecl_audit_limits *t = calloc(1, sizeof *t);

    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    t->latest = -1;
    *out = t;
    return ECL_OK;
}

void
ecl_audit_limits_free(struct ecl_audit_limits *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < BUCKETS; i++) {
        while (t->b[i] != NULL) {
            struct lnode *n = t->b[i];
            t->b[i] = n->next;
            free(n);
        }
    }
    free(t);
}

static size_t
bucket(const char *principal, const char *rule)
{
    uint8_t h[16];
    uint8_t msg[2 * (ECL_NAME_MAX_LEN + 1)];
    size_t pl = strlen(principal);
    size_t rl = strlen(rule);

    memcpy(msg, principal, pl + 1);
    memcpy(msg + pl + 1, rule, rl);
    ecl_crypto_blake2b(h, sizeof h, NULL, 0, msg, pl + 1 + rl);
    return (size_t)(ecl_get_u32(h) % BUCKETS);
}

/* The node of (principal, rule), created (day and minute -1) when absent. */
static enum ecl_status
node_get(struct ecl_audit_limits *t, const char *principal, const char *rule, struct lnode **out)
{
    struct lnode *n;
    size_t b;

    if (principal == NULL || rule == NULL || *principal == 0 || *rule == 0 ||
        strlen(principal) > ECL_NAME_MAX_LEN || strlen(rule) > ECL_NAME_MAX_LEN) {
        return ECL_ERR_INVALID;
    }
    b = bucket(principal, rule);
    for (n = t->b[b]; n != NULL; n = n->next) {
        if (strcmp(n->principal, principal) == 0 && strcmp(n->rule, rule) == 0) {
            *out = n;
            return ECL_OK;
        }
    }
    if (t->n >= ECL_LIMIT_COUNTERS_MAX) {
        return ECL_ERR_LIMIT;
    }
    n = calloc(1, sizeof *n);
    if (n == NULL) {
        return ECL_ERR_NOMEM;
    }
    memcpy(n->principal, principal, strlen(principal) + 1);
    memcpy(n->rule, rule, strlen(rule) + 1);
    n->day_start = -1;
    n->minute_start = -1;
    n->next = t->b[b];
    t->b[b] = n;
    t->n++;
    *out = n;
    return ECL_OK;
}

enum ecl_status
ecl_audit_limits_add(struct ecl_audit_limits *t, const char *principal, const char *rule,
                     int64_t at, int64_t window, uint64_t records)
{
    struct lnode *n = NULL;
    int64_t d = day_of(at);

    ECL_GUARD(node_get(t, principal, rule, &n));
    /* the latest day and the latest window win, whatever the order of the merges */
    if (d > n->day_start) {
        n->day_start = d;
        n->day_count = records;
    } else if (d == n->day_start) {
        n->day_count = n->day_count <= UINT64_MAX - records ? n->day_count + records : UINT64_MAX;
    }
    if (window >= 0 && window > n->minute_start) {
        n->minute_start = window;
        n->minute_count = 1;
    } else if (window >= 0 && window == n->minute_start && n->minute_count < UINT32_MAX) {
        n->minute_count++;
    }
    if (at > t->latest) {
        t->latest = at;
    }
    return ECL_OK;
}

enum ecl_status
ecl_audit_limits_put(struct ecl_audit_limits *t, const struct ecl_audit_limit_row *row)
{
    struct lnode *n = NULL;

    ECL_GUARD(node_get(t, row->principal, row->rule, &n));
    n->day_start = row->day_start;
    n->day_count = row->day_count;
    n->minute_start = row->minute_start;
    n->minute_count = row->minute_count;
    return ECL_OK;
}

void
ecl_audit_limits_each(const struct ecl_audit_limits *t, ecl_audit_limits_fn fn, void *arg)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        for (const struct lnode *n = t->b[i]; n != NULL; n = n->next) {
            struct ecl_audit_limit_row r = {n->principal, n->rule,         n->day_start,
                                            n->day_count, n->minute_start, n->minute_count};
            if (fn(arg, &r) != 0) {
                return;
            }
        }
    }
}

int64_t
ecl_audit_limits_latest(const struct ecl_audit_limits *t)
{
    return t->latest;
}

void
ecl_audit_limits_prune(struct ecl_audit_limits *t)
{
    int64_t day = day_of(t->latest);

    if (t->latest < 0) {
        return;
    }
    for (size_t i = 0; i < BUCKETS; i++) {
        struct lnode **p = &t->b[i];
        while (*p != NULL) {
            struct lnode *n = *p;
            /* a key whose day is over and whose window has ended at the latest request can
             * only be counted again from zero */
            if (n->day_start < day && n->minute_start + MINUTE_S <= t->latest) {
                *p = n->next;
                free(n);
                t->n--;
            } else {
                p = &n->next;
            }
        }
    }
}

/* An integer member >= 0 of o into *out; 0 when absent or not one. */
static int
member_nonneg(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return 0;
    }
    *out = (int64_t)json_integer_value(v);
    return 1;
}

int
ecl_audit_entry_counted(const struct ecl_audit_entry *e, int64_t *at, int64_t *window,
                        uint64_t *records)
{
    const json_t *p = e->payload;
    const json_t *c = json_object_get(p, "counted");
    const char *kind = json_string_value(json_object_get(p, "kind"));
    const char *decision = json_string_value(json_object_get(p, "decision"));
    int read = kind != NULL && strcmp(kind, "record.read") == 0;
    int query = kind != NULL && strcmp(kind, "record.query") == 0;
    int64_t n = 0;

    if (c != NULL) {
        if (!json_is_object(c) || !(read || query) || !member_nonneg(c, "at", at) ||
            !member_nonneg(c, "window", window) || !member_nonneg(c, "records", &n) ||
            n > ECL_AUDIT_COUNTED_RECORDS_MAX || *window > *at) {
            return -1;
        }
        *records = (uint64_t)n;
        return 1;
    }
    if ((read || query) && decision != NULL && strcmp(decision, "allow") == 0) {
        /* written by a gateway older than "counted": an allowed read released its record, an
         * allowed query the records of its subjects; its minute window is unknown */
        *at = (int64_t)(e->time_ms / 1000);
        *window = -1;
        *records = read ? 1 : json_array_size(json_object_get(p, "subjects"));
        return 1;
    }
    return 0;
}

/* The checkpoint key of an audit-entry key. */
static void
ckpt_key(const uint8_t entry_key[ECL_KEY_LEN], uint8_t out[ECL_KEY_LEN])
{
    ecl_crypto_blake2b(out, ECL_KEY_LEN, entry_key, ECL_KEY_LEN, LABEL, sizeof LABEL - 1);
}

static void
ckpt_ad(const uint8_t hdr[HDR_LEN], uint8_t ad[sizeof LABEL - 1 + HDR_LEN])
{
    memcpy(ad, LABEL, sizeof LABEL - 1);
    memcpy(ad + sizeof LABEL - 1, hdr, HDR_LEN);
}

struct ser {
    json_t *arr;
    enum ecl_status st;
};

static int
ser_row(void *arg, const struct ecl_audit_limit_row *r)
{
    struct ser *s = arg;
    json_t *row = json_pack("[ssIIII]", r->principal, r->rule, (json_int_t)r->day_start,
                            (json_int_t)r->day_count, (json_int_t)r->minute_start,
                            (json_int_t)r->minute_count);

    if (row == NULL || json_array_append_new(s->arr, row) != 0) {
        s->st = ECL_ERR_NOMEM;
        return 1;
    }
    return 0;
}

enum ecl_status
ecl_audit_limits_seal(const struct ecl_keyring *kr, const struct ecl_audit_limits *t, uint64_t next,
                      struct ecl_buf *out)
{
    uint8_t key[ECL_KEY_LEN];
    uint8_t hdr[HDR_LEN];
    uint8_t ad[sizeof LABEL - 1 + HDR_LEN];
    const uint8_t *ek = ecl_keyring_key(kr, ECL_KEY_AUDIT_ENTRY);
    struct ser s = {json_array(), ECL_OK};
    json_t *doc = NULL;
    char *text = NULL;
    size_t text_len = 0;
    enum ecl_status st = ECL_OK;

    if (ek == NULL || s.arr == NULL) {
        json_decref(s.arr);
        return ek == NULL ? ECL_ERR_PERM : ECL_ERR_NOMEM;
    }
    ecl_audit_limits_each(t, ser_row, &s);
    st = s.st;
    if (st == ECL_OK) {
        doc = json_pack("{sisIsIso}", "v", 1, "next", (json_int_t)next, "at", (json_int_t)t->latest,
                        "c", s.arr);
        s.arr = NULL; /* taken by json_pack, even on failure */
        st = doc == NULL ? ECL_ERR_NOMEM : ECL_OK;
    }
    if (st == ECL_OK) {
        text = json_dumps(doc, JSON_COMPACT);
        st = text == NULL ? ECL_ERR_NOMEM : ECL_OK;
    }
    if (st == ECL_OK) {
        text_len = strlen(text);
        st = text_len <= ECL_AUDIT_LIMITS_CHECKPOINT_MAX_BYTES ? ECL_OK : ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        memcpy(hdr, MAGIC, 4);
        ecl_put_u32(hdr + 4, ecl_keyring_version(kr, ECL_KEY_AUDIT_ENTRY));
        ecl_put_u64(hdr + 8, next);
        ckpt_ad(hdr, ad);
        ckpt_key(ek, key);
        st = ecl_buf_append(out, hdr, HDR_LEN);
    }
    if (st == ECL_OK) {
        st = ecl_crypto_aead_seal(key, ad, sizeof ad, (const uint8_t *)text, text_len, out);
    }
    ecl_wipe(key, sizeof key);
    free(text);
    json_decref(doc);
    json_decref(s.arr);
    return st;
}

/* Parses one row of the plaintext into t. */
static enum ecl_status
row_parse(struct ecl_audit_limits *t, const json_t *row)
{
    struct ecl_audit_limit_row r;
    json_int_t v[4];

    if (!json_is_array(row) || json_array_size(row) != 6) {
        return ECL_ERR_INVALID;
    }
    r.principal = json_string_value(json_array_get(row, 0));
    r.rule = json_string_value(json_array_get(row, 1));
    for (size_t i = 0; i < 4; i++) {
        const json_t *x = json_array_get(row, i + 2);
        if (!json_is_integer(x) || json_integer_value(x) < -1) {
            return ECL_ERR_INVALID;
        }
        v[i] = json_integer_value(x);
    }
    if (r.principal == NULL || r.rule == NULL || v[1] < 0 || v[3] < 0 || v[3] > UINT32_MAX) {
        return ECL_ERR_INVALID;
    }
    r.day_start = (int64_t)v[0];
    r.day_count = (uint64_t)v[1];
    r.minute_start = (int64_t)v[2];
    r.minute_count = (uint32_t)v[3];
    {
        struct lnode *n = NULL;
        enum ecl_status st = node_get(t, r.principal, r.rule, &n);
        if (st != ECL_OK) {
            return st;
        }
        if (n->day_start != -1 || n->minute_start != -1) {
            return ECL_ERR_INVALID; /* the same key twice */
        }
    }
    ECL_GUARD(ecl_audit_limits_put(t, &r));
    return ECL_OK;
}

/* Opens and parses a stored checkpoint value. */
static enum ecl_status
ckpt_open(const struct ecl_keyring *kr, const uint8_t *val, size_t len,
          struct ecl_audit_limits **out, uint64_t *next)
{
    uint8_t key[ECL_KEY_LEN];
    uint8_t ek[ECL_KEY_LEN];
    uint8_t ad[sizeof LABEL - 1 + HDR_LEN];
    struct ecl_buf plain;
    struct ecl_audit_limits *t = NULL;
    const json_t *c;
    json_t *doc = NULL;
    const char *why = NULL;
    int line = 0;
    uint32_t version;
    enum ecl_status st;

    ecl_buf_init(&plain, ECL_AUDIT_LIMITS_CHECKPOINT_MAX_BYTES);
    if (len < HDR_LEN || memcmp(val, MAGIC, 4) != 0) {
        st = ECL_ERR_CRYPTO; /* the header is covered by the tag: a changed one is tampering */
        goto out;
    }
    version = ecl_get_u32(val + 4);
    st = ecl_keyring_key_at(kr, ECL_KEY_AUDIT_ENTRY, version, ek);
    if (st != ECL_OK) {
        st = st == ECL_ERR_PERM ? st : ECL_ERR_CRYPTO;
        goto out;
    }
    ckpt_key(ek, key);
    ckpt_ad(val, ad);
    st = ecl_crypto_aead_open(key, ad, sizeof ad, val + HDR_LEN, len - HDR_LEN, &plain);
    if (st != ECL_OK) {
        st = st == ECL_ERR_NOMEM ? st : ECL_ERR_CRYPTO;
        goto out;
    }
    doc = ecl_json_load((const char *)plain.ptr, plain.len, 4, &why, &line);
    c = json_object_get(doc, "c");
    if (doc == NULL || !json_is_object(doc) || json_object_size(doc) != 4 ||
        !json_is_integer(json_object_get(doc, "at")) ||
        json_integer_value(json_object_get(doc, "at")) < -1 ||
        json_integer_value(json_object_get(doc, "v")) != 1 || !json_is_array(c) ||
        !json_is_integer(json_object_get(doc, "next")) ||
        (uint64_t)json_integer_value(json_object_get(doc, "next")) != ecl_get_u64(val + 8)) {
        st = ECL_ERR_INVALID;
        goto out;
    }
    st = ecl_audit_limits_new(&t);
    for (size_t i = 0; i < json_array_size(c) && st == ECL_OK; i++) {
        st = row_parse(t, json_array_get(c, i));
    }
    if (st == ECL_ERR_NOMEM || st == ECL_OK) {
        if (st == ECL_OK) {
            t->latest = (int64_t)json_integer_value(json_object_get(doc, "at"));
            *out = t;
            *next = ecl_get_u64(val + 8);
            t = NULL;
        }
    } else {
        st = ECL_ERR_INVALID;
    }
out:
    ecl_audit_limits_free(t);
    json_decref(doc);
    ecl_buf_free(&plain);
    ecl_wipe(key, sizeof key);
    ecl_wipe(ek, sizeof ek);
    return st;
}

enum ecl_status
ecl_audit_limits_checkpoint_read(struct ecl_store *s, const struct ecl_keyring *kr,
                                 struct ecl_audit_limits **out, uint64_t *next)
{
    struct ecl_audit_txn *t = NULL;
    struct ecl_view v = {NULL, 0};
    struct ecl_audit_limits *tab = NULL;
    uint64_t size = 0;
    uint64_t n = 0;
    enum ecl_status st;

    if (!ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    ECL_GUARD(ecl_audit_db_begin(s, &t));
    st = ecl_audit_db_size(t, &size);
    if (st == ECL_OK) {
        st = ecl_audit_db_get(t, ECL_AUDIT_T_META, ECL_AUDIT_LIMITS_META_KEY,
                              sizeof ECL_AUDIT_LIMITS_META_KEY - 1, &v);
    }
    if (st == ECL_OK) {
        st = ckpt_open(kr, v.ptr, v.len, &tab, &n);
    }
    ecl_audit_db_end(t);
    if (st == ECL_OK && n > size) {
        st = ECL_ERR_INVALID; /* covers entries the log does not have */
    }
    if (st != ECL_OK) {
        ecl_audit_limits_free(tab);
        return st;
    }
    *out = tab;
    *next = n;
    return ECL_OK;
}
