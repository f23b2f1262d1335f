/* Offline verification of a stored audit log (docs/audit-format.md, "Verification").
 * Public tier (public key only): every entry's header and leaf hash, sequence continuity,
 * non-decreasing time, every stored tree node, every checkpoint's signature and root at its
 * size, the blind-index rows against the clear headers (both directions), and optionally the
 * consistency with a checkpoint kept elsewhere.  Full tier (master key): also decrypts every
 * entry and rebuilds its blind-index tokens from the decrypted payload. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "store/audit_db.h"

struct cp {
    uint64_t size;
    uint8_t root[ECL_HASH_LEN];
};

struct vctx {
    struct ecl_audit_txn *t;
    const struct ecl_keyring *kr;
    enum ecl_audit_verify_flags flags;
    struct ecl_buf *report;
    size_t nfail;
    enum ecl_status st; /* a failure to run (not a verification failure) */

    uint64_t expect_seq;
    uint64_t last_time;
    struct ecl_merkle_frontier fr;
    struct cp *cps;
    size_t ncps;
    size_t next_cp;
    int have_trusted;
    struct cp trusted;
    int trusted_root_seen;

    uint64_t entries;
    uint64_t nodes;
    uint64_t idx_rows;
    uint64_t decrypted;
    uint64_t cps_checked;
};

static void report(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
report(struct vctx *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (ecl_buf_append_str(c->report, line) != ECL_OK ||
        ecl_buf_append_byte(c->report, '\n') != ECL_OK) {
        c->st = ECL_ERR_LIMIT;
    }
}

/* One failure: "FAIL <check> <where>: <reason>".  Only the first ones are written. */
static void fail(struct vctx *c, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct vctx *c, const char *check, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    c->nfail++;
    if (c->nfail > ECL_AUDIT_VERIFY_MAX_FAILURES) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(c, "FAIL %s %s", check, msg);
}

static enum ecl_status
node_get(void *arg, unsigned level, uint64_t index, uint8_t out[ECL_HASH_LEN])
{
    return ecl_audit_db_node(arg, level, index, out);
}

static int
cp_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    struct vctx *c = arg;
    const char *origin = ecl_keyring_origin(c->kr);
    size_t text_len = 0;
    uint64_t size;
    struct cp cp;
    enum ecl_status st;

    if (key.len != 8) {
        fail(c, "checkpoint-key", "row: a checkpoint key is not 8 bytes");
        return 0;
    }
    size = ecl_get_u64(key.ptr);
    c->cps_checked++;
    st = ecl_note_verify((const char *)val.ptr, val.len, origin, ecl_keyring_sign_pk(c->kr),
                         &text_len);
    if (st != ECL_OK) {
        fail(c, "checkpoint-signature", "size=%llu: %s", (unsigned long long)size,
             st == ECL_ERR_CRYPTO ? "the signature does not verify with the audit public key"
                                  : "not a well-formed signed note");
        return 0;
    }
    if (ecl_checkpoint_parse((const char *)val.ptr, text_len, origin, &cp.size, cp.root) !=
        ECL_OK) {
        fail(c, "checkpoint-format", "size=%llu: not a checkpoint of this log's origin",
             (unsigned long long)size);
        return 0;
    }
    if (cp.size != size) {
        fail(c, "checkpoint-size", "size=%llu: the signed size is %llu", (unsigned long long)size,
             (unsigned long long)cp.size);
        return 0;
    }
    c->cps[c->ncps++] = cp;
    return 0;
}

static int
idx_has(struct vctx *c, enum ecl_audit_table table, const uint8_t *token, uint64_t seq)
{
    uint8_t key[ECL_AUDIT_IDX_KEY_LEN];
    struct ecl_view v;

    memcpy(key, token, ECL_AUDIT_TOKEN_LEN);
    ecl_put_u64(key + ECL_AUDIT_TOKEN_LEN, seq);
    return ecl_audit_db_get(c->t, table, key, sizeof key, &v) == ECL_OK;
}

static int
token_is_zero(const uint8_t *t)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < ECL_AUDIT_TOKEN_LEN; i++) {
        acc |= t[i];
    }
    return acc == 0;
}

/* Full tier: decrypt and rebuild the tokens from the payload. */
static void
check_decrypt(struct vctx *c, uint64_t seq, const uint8_t *leaf, size_t len,
              const struct ecl_audit_header *h)
{
    const uint8_t *key = ecl_keyring_key(c->kr, ECL_KEY_AUDIT_INDEX);
    struct ecl_audit_header h2;
    json_t *payload = NULL;
    const json_t *subjects;
    const char *principal;
    uint8_t ptok[ECL_AUDIT_TOKEN_LEN] = {0};
    uint8_t *toks = NULL;
    size_t n = 0;
    size_t i;
    const json_t *v;

    if (ecl_audit_leaf_open(c->kr, leaf, len, &h2, &payload) != ECL_OK) {
        fail(c, "decrypt", "seq=%llu: the entry does not decrypt and authenticate",
             (unsigned long long)seq);
        return;
    }
    c->decrypted++;
    subjects = json_object_get(payload, "subjects");
    principal = json_string_value(json_object_get(payload, "principal"));
    if (principal != NULL) {
        ecl_audit_token(key, ECL_AUDIT_TOK_PRINCIPAL, principal, strlen(principal), ptok);
    }
    if (json_array_size(subjects) > 0) {
        toks = malloc(json_array_size(subjects) * ECL_AUDIT_TOKEN_LEN);
        if (toks == NULL) {
            c->st = ECL_ERR_NOMEM;
            json_decref(payload);
            return;
        }
    }
    json_array_foreach(subjects, i, v)
    {
        const char *sv = json_string_value(v);
        if (sv == NULL) {
            continue;
        }
        ecl_audit_token(key, ECL_AUDIT_TOK_SUBJECT, sv, strlen(sv), toks + n * ECL_AUDIT_TOKEN_LEN);
        n++;
    }
    n = ecl_audit_tokens_sort(toks, n);
    if (n != h->ntokens || (n > 0 && memcmp(toks, h->tokens, n * ECL_AUDIT_TOKEN_LEN) != 0)) {
        fail(c, "index-rebuild",
             "seq=%llu: the subject tokens of the header do not match the "
             "subjects of the decrypted entry",
             (unsigned long long)seq);
    }
    if (memcmp(ptok, h->principal_token, ECL_AUDIT_TOKEN_LEN) != 0) {
        fail(c, "index-rebuild",
             "seq=%llu: the principal token of the header does not match "
             "the principal of the decrypted entry",
             (unsigned long long)seq);
    }
    free(toks);
    json_decref(payload);
}

static void
check_roots_at_size(struct vctx *c)
{
    uint8_t root[ECL_HASH_LEN];
    int computed = 0;

    while (c->next_cp < c->ncps && c->cps[c->next_cp].size <= c->fr.size) {
        struct cp *cp = &c->cps[c->next_cp++];
        if (!computed) {
            ecl_merkle_frontier_root(&c->fr, root);
            computed = 1;
        }
        if (cp->size < c->fr.size) {
            continue; /* cannot happen: sizes are visited in order */
        }
        if (!ecl_crypto_equal(root, cp->root, ECL_HASH_LEN)) {
            fail(c, "checkpoint-root",
                 "size=%llu: the signed root differs from the root of the "
                 "stored entries 0..%llu",
                 (unsigned long long)cp->size, (unsigned long long)(cp->size - 1));
        }
    }
    if (c->have_trusted && c->trusted.size == c->fr.size) {
        if (!computed) {
            ecl_merkle_frontier_root(&c->fr, root);
        }
        c->trusted_root_seen = 1;
        if (!ecl_crypto_equal(root, c->trusted.root, ECL_HASH_LEN)) {
            fail(c, "trusted-checkpoint",
                 "size=%llu: the stored entries do not have the trusted "
                 "checkpoint's root (history was rewritten)",
                 (unsigned long long)c->trusted.size);
        }
    }
}

static int
entry_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    struct vctx *c = arg;
    struct ecl_merkle_node done[ECL_MERKLE_MAX_DEPTH + 1];
    struct ecl_audit_header h;
    uint8_t leaf_hash[ECL_HASH_LEN];
    uint8_t stored[ECL_HASH_LEN];
    size_t ndone = 0;
    uint64_t seq;

    if (key.len != 8) {
        fail(c, "entry-key", "position=%llu: an entry key is not 8 bytes",
             (unsigned long long)c->fr.size);
        return 0;
    }
    seq = ecl_get_u64(key.ptr);
    c->entries++;
    if (seq != c->expect_seq) {
        fail(c, "sequence", "seq=%llu: expected entry seq=%llu here (missing or extra entries)",
             (unsigned long long)seq, (unsigned long long)c->expect_seq);
    }
    c->expect_seq = seq + 1;
    if (ecl_audit_header_parse(val.ptr, val.len, &h) != ECL_OK) {
        fail(c, "header", "seq=%llu: the clear header does not parse", (unsigned long long)seq);
        memset(&h, 0, sizeof h);
        h.seq = seq;
        h.time_ms = c->last_time;
        memcpy(h.log_id, ecl_keyring_log_id(c->kr), ECL_LOG_ID_LEN);
    } else {
        if (h.seq != seq) {
            fail(c, "header-seq", "seq=%llu: the header says seq=%llu", (unsigned long long)seq,
                 (unsigned long long)h.seq);
        }
        if (!ecl_crypto_equal(h.log_id, ecl_keyring_log_id(c->kr), ECL_LOG_ID_LEN)) {
            fail(c, "header-log-id", "seq=%llu: the entry belongs to another log",
                 (unsigned long long)seq);
        }
        if (h.time_ms < c->last_time) {
            fail(c, "time-order", "seq=%llu: the time goes back by %llu ms",
                 (unsigned long long)seq, (unsigned long long)(c->last_time - h.time_ms));
        } else {
            c->last_time = h.time_ms;
        }
        if (!token_is_zero(h.principal_token)) {
            c->idx_rows++;
            if (!idx_has(c, ECL_AUDIT_T_IDX_PRINCIPAL, h.principal_token, seq)) {
                fail(c, "index-principal-missing",
                     "seq=%llu: the principal index has no row for this entry",
                     (unsigned long long)seq);
            }
        }
        for (size_t i = 0; i < h.ntokens; i++) {
            c->idx_rows++;
            if (!idx_has(c, ECL_AUDIT_T_IDX_SUBJECT, h.tokens + i * ECL_AUDIT_TOKEN_LEN, seq)) {
                fail(c, "index-subject-missing",
                     "seq=%llu: the subject index lacks the row of subject token #%zu",
                     (unsigned long long)seq, i);
            }
        }
        if (c->flags & ECL_AUDIT_VERIFY_DECRYPT) {
            check_decrypt(c, seq, val.ptr, val.len, &h);
        }
    }
    ecl_merkle_leaf_hash(val.ptr, val.len, leaf_hash);
    if (ecl_merkle_frontier_append(&c->fr, leaf_hash, done, &ndone) != ECL_OK) {
        c->st = ECL_ERR_LIMIT;
        return 1;
    }
    for (size_t i = 0; i < ndone; i++) {
        enum ecl_status st = ecl_audit_db_node(c->t, done[i].level, done[i].index, stored);
        c->nodes++;
        if (st != ECL_OK || !ecl_crypto_equal(stored, done[i].hash, ECL_HASH_LEN)) {
            fail(c, i == 0 ? "leaf-hash" : "tree-node",
                 "seq=%llu: stored node (level %u, index %llu) %s", (unsigned long long)seq,
                 done[i].level, (unsigned long long)done[i].index,
                 st != ECL_OK ? "is missing" : "differs from the recomputed hash");
        }
    }
    check_roots_at_size(c);
    return c->st != ECL_OK;
}

/* Reverse direction: every index row names an entry whose header carries its token. */
struct idx_scan {
    struct vctx *c;
    enum ecl_audit_table table;
    const char *check;
};

static int
idx_row(void *arg, struct ecl_view key, struct ecl_view val)
{
    struct idx_scan *x = arg;
    struct vctx *c = x->c;
    struct ecl_audit_header h;
    struct ecl_view leaf;
    uint64_t seq;
    int found = 0;

    (void)val;
    if (key.len != ECL_AUDIT_IDX_KEY_LEN) {
        fail(c, x->check, "row: an index key is not %d bytes", ECL_AUDIT_IDX_KEY_LEN);
        return 0;
    }
    seq = ecl_get_u64(key.ptr + ECL_AUDIT_TOKEN_LEN);
    if (ecl_audit_db_entry(c->t, seq, &leaf) == ECL_OK &&
        ecl_audit_header_parse(leaf.ptr, leaf.len, &h) == ECL_OK) {
        if (x->table == ECL_AUDIT_T_IDX_PRINCIPAL) {
            found = memcmp(h.principal_token, key.ptr, ECL_AUDIT_TOKEN_LEN) == 0;
        }
        for (size_t i = 0; x->table == ECL_AUDIT_T_IDX_SUBJECT && i < h.ntokens; i++) {
            found |= memcmp(h.tokens + i * ECL_AUDIT_TOKEN_LEN, key.ptr, ECL_AUDIT_TOKEN_LEN) == 0;
        }
    }
    if (!found) {
        fail(c, x->check, "seq=%llu: an index row names an entry that does not carry its token",
             (unsigned long long)seq);
    }
    return 0;
}

static void
check_trusted_consistency(struct vctx *c)
{
    uint8_t proof[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    uint8_t root[ECL_HASH_LEN];
    size_t n = 0;
    enum ecl_status st;

    if (c->trusted.size > c->fr.size) {
        fail(c, "trusted-checkpoint",
             "size=%llu: the log holds only %llu entries, fewer than the trusted checkpoint "
             "(truncated, or replaced by an older copy)",
             (unsigned long long)c->trusted.size, (unsigned long long)c->fr.size);
        return;
    }
    if (c->trusted.size == 0) {
        report(c, "ok   trusted-checkpoint: size 0 (trivially consistent)");
        return;
    }
    ecl_merkle_frontier_root(&c->fr, root);
    st = ecl_merkle_consistency_proof(c->trusted.size, c->fr.size, node_get, c->t, proof,
                                      ECL_MERKLE_MAX_DEPTH, &n);
    if (st == ECL_OK) {
        st = ecl_merkle_verify_consistency(c->trusted.size, c->fr.size, c->trusted.root, root,
                                           (const uint8_t(*)[ECL_HASH_LEN])proof, n);
    }
    if (st != ECL_OK) {
        fail(c, "trusted-consistency",
             "size=%llu: the current log (size %llu) is not an append-only extension of the "
             "trusted checkpoint",
             (unsigned long long)c->trusted.size, (unsigned long long)c->fr.size);
        return;
    }
    report(c,
           "ok   trusted-consistency: RFC 9162 consistency proof from size %llu to %llu "
           "(%zu hashes) verifies",
           (unsigned long long)c->trusted.size, (unsigned long long)c->fr.size, n);
}

static void
load_trusted(struct vctx *c, const char *trusted, size_t len)
{
    const char *origin = ecl_keyring_origin(c->kr);
    size_t text_len = 0;
    enum ecl_status st =
        ecl_note_verify(trusted, len, origin, ecl_keyring_sign_pk(c->kr), &text_len);

    if (st == ECL_OK) {
        st = ecl_checkpoint_parse(trusted, text_len, origin, &c->trusted.size, c->trusted.root);
    }
    if (st != ECL_OK) {
        fail(c, "trusted-checkpoint", "file: not a checkpoint of this log signed by its audit key");
        return;
    }
    c->have_trusted = 1;
    if (c->trusted.size == 0) {
        c->trusted_root_seen = 1;
    }
}

static void
run(struct vctx *c, const char *trusted, size_t trusted_len)
{
    const char *origin = ecl_keyring_origin(c->kr);
    size_t ncp = 0;
    size_t count = 0;
    uint64_t meta_size = 0;
    uint64_t want_nodes;
    struct idx_scan xs;

    report(c, "audit log %s, %s verification", origin,
           (c->flags & ECL_AUDIT_VERIFY_DECRYPT) ? "full (master key)" : "public-key");
    if (ecl_audit_db_count(c->t, ECL_AUDIT_T_CHECKPOINTS, &ncp) != ECL_OK) {
        c->st = ECL_ERR_IO;
        return;
    }
    c->cps = calloc(ncp + 1, sizeof *c->cps);
    if (c->cps == NULL) {
        c->st = ECL_ERR_NOMEM;
        return;
    }
    if (trusted != NULL) {
        load_trusted(c, trusted, trusted_len);
    }
    c->st = ecl_audit_db_scan(c->t, ECL_AUDIT_T_CHECKPOINTS, NULL, 0, cp_row, c);
    if (c->st != ECL_OK) {
        return;
    }
    check_roots_at_size(c); /* a checkpoint of size 0 */
    c->st = ecl_audit_db_scan(c->t, ECL_AUDIT_T_ENTRIES, NULL, 0, entry_row, c);
    if (c->st != ECL_OK) {
        return;
    }
    for (; c->next_cp < c->ncps; c->next_cp++) {
        fail(c, "checkpoint-beyond-log",
             "size=%llu: a signed checkpoint covers more entries than the log holds (%llu): the "
             "tail was truncated",
             (unsigned long long)c->cps[c->next_cp].size, (unsigned long long)c->fr.size);
    }
    if (c->ncps == 0 && c->fr.size > 0) {
        fail(c, "checkpoint-latest", "size=%llu: no valid checkpoint covers the log",
             (unsigned long long)c->fr.size);
    } else if (c->ncps > 0 && c->cps[c->ncps - 1].size < c->fr.size) {
        fail(c, "checkpoint-latest",
             "size=%llu: the latest valid checkpoint covers only %llu entries",
             (unsigned long long)c->fr.size, (unsigned long long)c->cps[c->ncps - 1].size);
    }
    if (ecl_audit_db_size(c->t, &meta_size) != ECL_OK || meta_size != c->fr.size) {
        fail(c, "meta-size", "size=%llu: the recorded tree size is %llu",
             (unsigned long long)c->fr.size, (unsigned long long)meta_size);
    }
    want_nodes = 2 * c->fr.size - (uint64_t)__builtin_popcountll(c->fr.size);
    if (ecl_audit_db_count(c->t, ECL_AUDIT_T_NODES, &count) != ECL_OK || count != want_nodes) {
        fail(c, "tree-node-count", "size=%llu: %zu stored tree nodes, expected %llu",
             (unsigned long long)c->fr.size, count, (unsigned long long)want_nodes);
    }
    xs.c = c;
    xs.table = ECL_AUDIT_T_IDX_SUBJECT;
    xs.check = "index-subject-extra";
    c->st = ecl_audit_db_scan(c->t, xs.table, NULL, 0, idx_row, &xs);
    if (c->st == ECL_OK) {
        xs.table = ECL_AUDIT_T_IDX_PRINCIPAL;
        xs.check = "index-principal-extra";
        c->st = ecl_audit_db_scan(c->t, xs.table, NULL, 0, idx_row, &xs);
    }
    if (c->st != ECL_OK) {
        return;
    }
    if (c->have_trusted) {
        check_trusted_consistency(c);
    }
    report(c, "checked: %llu entries (sequence, header, time order, leaf hash), %llu tree nodes,",
           (unsigned long long)c->entries, (unsigned long long)c->nodes);
    report(c, "         %llu checkpoints (signature, root at size), %llu index rows both ways,",
           (unsigned long long)c->cps_checked, (unsigned long long)c->idx_rows);
    report(c, "         %llu entries decrypted and re-indexed", (unsigned long long)c->decrypted);
    if (c->nfail > ECL_AUDIT_VERIFY_MAX_FAILURES) {
        report(c, "(%zu more failures not shown)", c->nfail - ECL_AUDIT_VERIFY_MAX_FAILURES);
    }
    if (c->nfail == 0) {
        uint8_t root[ECL_HASH_LEN];
        char hex[2 * ECL_HASH_LEN + 1];
        ecl_merkle_frontier_root(&c->fr, root);
        ecl_hex(root, sizeof root, hex);
        report(c, "OK: tree size %llu, root %s", (unsigned long long)c->fr.size, hex);
    } else {
        report(c, "FAILED: %zu problem(s)", c->nfail);
    }
}

enum ecl_status
ecl_audit_verify(struct ecl_store *s, const struct ecl_keyring *kr,
                 enum ecl_audit_verify_flags flags, const char *trusted, size_t trusted_len,
                 struct ecl_buf *rep, size_t *nfail)
{
    struct vctx c;

    if ((flags & ECL_AUDIT_VERIFY_DECRYPT) && !ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    memset(&c, 0, sizeof c);
    c.kr = kr;
    c.flags = flags;
    c.report = rep;
    ecl_merkle_frontier_init(&c.fr);
    ECL_GUARD(ecl_audit_db_begin(s, &c.t));
    run(&c, trusted, trusted_len);
    ecl_audit_db_end(c.t);
    free(c.cps);
    if (c.st != ECL_OK) {
        return c.st;
    }
    *nfail = c.nfail;
    return ECL_OK;
}
