/* The audit writer: one thread, group commits, fail closed.
 *
 * Submitters validate and encode their event (payload JSON, blind-index tokens) in their own
 * thread and queue it.  The writer takes up to ECL_AUDIT_BATCH_MAX queued events, gives them
 * consecutive sequence numbers and non-decreasing times, seals them, extends the Merkle tree and
 * writes entries, tree nodes, index rows and a signed checkpoint in one LMDB transaction, commits
 * it durably and only then calls each event's done callback.  A failed commit seals the log for
 * good: the batch and everything queued fail, later submissions are refused, nothing is retried
 * (a failed fsync cannot be retried safely). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecl/limits.h"
#include "entry.h"
#include "limits_ckpt.h"
#include "store/audit_db.h"
#include "store/pseudo.h"

/* A pseudonym index row, copied: database key (index key || dataset) and sealed value. */
struct prow {
    uint8_t key[ECL_PSEUDO_DB_KEY_MAX];
    size_t key_len;
    uint8_t val[ECL_PSEUDO_VALUE_MAX];
    size_t val_len;
};

struct item {
    struct item *next;
    struct ecl_buf payload;
    uint8_t principal_token[ECL_AUDIT_TOKEN_LEN];
    uint8_t *tokens;
    size_t ntokens;
    struct prow *prows;
    size_t nprows;
    ecl_audit_done_fn done;
    void *arg;
    uint64_t seq;
    /* what the entry counts against its rule's limits (ecl_audit_entry_counted's reading) */
    int counts;
    int at_entry_time; /* an allowed read/query without "counted": at is the entry's time */
    int64_t at;
    int64_t window;
    uint64_t records;
    char principal[ECL_NAME_MAX_LEN + 1];
    char rule[ECL_NAME_MAX_LEN + 1];
};

struct ecl_audit {
    struct ecl_store *store;
    const struct ecl_keyring *kr;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head;
    struct item *tail;
    size_t queued;
    size_t queue_max; /* ECL_AUDIT_QUEUE_MAX, or lower with ECLUSE_AUDIT_QUEUE_MAX (tests) */
    int closing;
    int sealed;
    unsigned delay_ms; /* ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS (tests): sleep before each commit */
    const char *why;
    uint64_t nentries;
    uint64_t ncommits;
    struct item *batch[ECL_AUDIT_BATCH_MAX]; /* writer thread only */
    /* writer thread only (and open) */
    struct ecl_merkle_frontier fr;
    uint64_t last_time;
    uint64_t (*now_ms)(void *arg);
    void *now_arg;
    /* the rate-limit counters of the committed entries (limits_ckpt.c): handed over under mu
     * (seed, seed_next), then writer thread only (lim covers the entries with seq < lim_next;
     * NULL: none, no checkpoint written) */
    struct ecl_audit_limits *seed;
    uint64_t seed_next;
    struct ecl_audit_limits *lim;
    uint64_t lim_next;
    uint64_t ckpt_time;    /* writer clock of the last checkpoint written */
    uint64_t ckpt_entries; /* entries merged since */
    int ckpt_due;          /* one is written at the first commit after a seed */
    unsigned ckpt_every;   /* ECLUSE_AUDIT_TEST_LIMITS_EVERY (tests): every n entries */
};

/* ECLUSE_AUDIT_QUEUE_MAX lowers the queue cap (1..ECL_AUDIT_QUEUE_MAX) so that the
 * saturation path (503 audit_queue_full with Retry-After) can be exercised under a modest load
 * (tests/integration/test_reliability.py, scripts/soak); anything else keeps the default. */
static size_t
queue_max_from_env(void)
{
    const char *s = getenv("ECLUSE_AUDIT_QUEUE_MAX");
    char *end = NULL;
    unsigned long v;

    if (s == NULL || *s == 0) {
        return ECL_AUDIT_QUEUE_MAX;
    }
    v = strtoul(s, &end, 10);
    if (*end != 0 || v == 0 || v > ECL_AUDIT_QUEUE_MAX) {
        return ECL_AUDIT_QUEUE_MAX;
    }
    return (size_t)v;
}

/* ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS (1..ECL_AUDIT_TEST_DELAY_MAX_MS): the writer sleeps that long
 * before each commit, so that tests can hold requests suspended while they wait for their entry
 * (tests/integration/test_shutdown.py stops the server then).  Unset or invalid: no delay. */
static unsigned
delay_from_env(void)
{
    const char *s = getenv("ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS");
    char *end = NULL;
    unsigned long v;

    if (s == NULL || *s == 0) {
        return 0;
    }
    v = strtoul(s, &end, 10);
    if (*end != 0 || v > ECL_AUDIT_TEST_DELAY_MAX_MS) {
        return 0;
    }
    return (unsigned)v;
}

/* ECLUSE_AUDIT_TEST_LIMITS_EVERY (1..ECL_AUDIT_LIMITS_CHECKPOINT_ENTRIES): the writer writes the
 * rate-limit checkpoint every that many entries, so that tests can restart with a checkpoint
 * that covers part of the log.  Unset or invalid: the defaults. */
static unsigned
every_from_env(void)
{
    const char *s = getenv("ECLUSE_AUDIT_TEST_LIMITS_EVERY");
    char *end = NULL;
    unsigned long v;

    if (s == NULL || *s == 0) {
        return 0;
    }
    v = strtoul(s, &end, 10);
    if (*end != 0 || v == 0 || v > ECL_AUDIT_LIMITS_CHECKPOINT_ENTRIES) {
        return 0;
    }
    return (unsigned)v;
}

static uint64_t
real_now_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *
seal_reason(enum ecl_status st)
{
    switch (st) {
    case ECL_ERR_FULL:
        return "an audit commit failed because the audit store is full (map or disk); the log "
               "is sealed";
    case ECL_ERR_IO:
        return "an audit commit failed with an I/O error; the log is sealed";
    case ECL_ERR_CONFLICT:
        return "another process wrote to the audit log; this writer is sealed";
    case ECL_ERR_NOMEM:
        return "the audit writer ran out of memory; the log is sealed";
    case ECL_OK:
    case ECL_ERR_INVALID:
    case ECL_ERR_NOT_FOUND:
    case ECL_ERR_EXISTS:
    case ECL_ERR_CRYPTO:
    case ECL_ERR_PERM:
    case ECL_ERR_LIMIT:
    case ECL_ERR_SEALED:
    case ECL_ERR_DENIED:
    case ECL_ERR_INTERNAL:
        break;
    }
    return "an audit commit failed; the log is sealed";
}

static void
item_free(struct item *it)
{
    ecl_buf_free(&it->payload);
    free(it->tokens);
    free(it->prows);
    free(it);
}

/* Rebuilds the writer's state from the store: the tree's right edge (one node per set bit of
 * the size), the last entry's time, and checks that the latest checkpoint is this tree's. */
static enum ecl_status
recover_in(struct ecl_audit *a, struct ecl_audit_txn *t)
{
    struct ecl_audit_header h;
    struct ecl_view v;
    uint8_t root[ECL_HASH_LEN];
    uint8_t cp_root[ECL_HASH_LEN];
    uint64_t size = 0;
    uint64_t cp_size = 0;
    size_t text_len = 0;
    enum ecl_status st;

    st = ecl_audit_db_size(t, &size);
    if (st != ECL_OK || size == 0) {
        return st;
    }
    ecl_merkle_frontier_init(&a->fr);
    for (unsigned l = 0; l < ECL_MERKLE_MAX_DEPTH && st == ECL_OK; l++) {
        if (((size >> l) & 1) != 0) {
            st = ecl_audit_db_node(t, l, (size >> l) - 1, a->fr.h[l]);
        }
    }
    a->fr.size = size;
    if (st == ECL_OK) {
        st = ecl_audit_db_entry(t, size - 1, &v);
    }
    if (st == ECL_OK) {
        st = ecl_audit_header_parse(v.ptr, v.len, &h);
    }
    if (st == ECL_OK && h.seq != size - 1) {
        st = ECL_ERR_INVALID;
    }
    if (st == ECL_OK && ecl_audit_db_entry(t, size, &v) != ECL_ERR_NOT_FOUND) {
        st = ECL_ERR_INVALID;
    }
    if (st == ECL_OK) {
        a->last_time = h.time_ms;
        st = ecl_audit_db_checkpoint_last(t, &cp_size, &v);
    }
    if (st == ECL_OK) {
        st = ecl_note_verify((const char *)v.ptr, v.len, ecl_keyring_origin(a->kr),
                             ecl_keyring_sign_pk(a->kr), &text_len);
    }
    if (st == ECL_OK) {
        st = ecl_checkpoint_parse((const char *)v.ptr, text_len, ecl_keyring_origin(a->kr),
                                  &cp_size, cp_root);
    }
    if (st == ECL_OK) {
        ecl_merkle_frontier_root(&a->fr, root);
        if (cp_size != size || !ecl_crypto_equal(root, cp_root, ECL_HASH_LEN)) {
            st = ECL_ERR_INVALID;
        }
    }
    if (st != ECL_OK) {
        st = st == ECL_ERR_NOMEM || st == ECL_ERR_IO ? st : ECL_ERR_INVALID;
    }
    return st;
}

static enum ecl_status
recover(struct ecl_audit *a)
{
    struct ecl_audit_txn *t = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_db_begin(a->store, &t));
    st = recover_in(a, t);
    ecl_audit_db_end(t);
    return st;
}

/* Starts the batch's write transaction.  Another process (an `ecluse` administrative command
 * next to a running server) may have appended since this writer last looked: the tree state is
 * then re-read under the write lock -- checking the other writer's checkpoint against its tree
 * -- so that this batch follows those entries.  LMDB serialises write transactions across
 * processes, so nobody can append between this read and the commit. */
static enum ecl_status
write_begin(struct ecl_audit *a, struct ecl_audit_txn **out)
{
    struct ecl_audit_txn *t = NULL;
    struct ecl_merkle_frontier keep = a->fr;
    uint64_t last = a->last_time;
    uint64_t size = 0;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_db_begin_write(a->store, &t));
    st = ecl_audit_db_size(t, &size);
    if (st == ECL_OK && size != a->fr.size) {
        st = size > a->fr.size ? recover_in(a, t) : ECL_ERR_INVALID;
        if (st != ECL_OK) {
            a->fr = keep;
        }
        if (a->last_time < last) {
            a->last_time = last;
        }
    }
    if (st != ECL_OK) {
        ecl_audit_db_end(t);
        return st;
    }
    *out = t;
    return ECL_OK;
}

/* Rows of one batch point into one arena sized up front, so no pointer moves. */
struct batch {
    struct ecl_audit_db_row *rows;
    size_t nrows;
    size_t cap_rows;
    uint8_t *arena;
    size_t used;
    size_t cap;
};

static uint8_t *
arena_take(struct batch *b, size_t n)
{
    uint8_t *p;

    if (n > b->cap - b->used) {
        return NULL;
    }
    p = b->arena + b->used;
    b->used += n;
    return p;
}

static enum ecl_status
row_add(struct batch *b, enum ecl_audit_table table, const uint8_t *key, size_t klen,
        const uint8_t *val, size_t vlen)
{
    struct ecl_audit_db_row *r;

    if (b->nrows >= b->cap_rows) {
        return ECL_ERR_INTERNAL;
    }
    r = &b->rows[b->nrows++];
    r->table = table;
    r->key.ptr = key;
    r->key.len = klen;
    r->val.ptr = val;
    r->val.len = vlen;
    return ECL_OK;
}

static enum ecl_status
idx_row(struct batch *b, enum ecl_audit_table table, const uint8_t *token, uint64_t seq)
{
    uint8_t *k = arena_take(b, ECL_AUDIT_IDX_KEY_LEN);

    if (k == NULL) {
        return ECL_ERR_INTERNAL;
    }
    memcpy(k, token, ECL_AUDIT_TOKEN_LEN);
    ecl_put_u64(k + ECL_AUDIT_TOKEN_LEN, seq);
    return row_add(b, table, k, ECL_AUDIT_IDX_KEY_LEN, (const uint8_t *)"", 0);
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

/* Merges into a->lim the entries another process appended (seq a->lim_next .. size - 1),
 * decrypting them in the batch's transaction.  Anything unexpected drops the table: no more
 * checkpoints, and the next start-up replays from the last one (or walks the day). */
static void
lim_catch_up(struct ecl_audit *a, struct ecl_audit_txn *wt, uint64_t size)
{
    enum ecl_status st = ECL_OK;

    if (a->lim == NULL || a->lim_next == size) {
        return;
    }
    if (a->lim_next > size || size - a->lim_next > ECL_AUDIT_LIMITS_CATCHUP_MAX) {
        st = ECL_ERR_LIMIT;
    }
    for (uint64_t seq = a->lim_next; seq < size && st == ECL_OK; seq++) {
        struct ecl_audit_header h;
        struct ecl_audit_entry e;
        struct ecl_view v = {NULL, 0};
        int64_t at = 0;
        int64_t window = -1;
        uint64_t records = 0;
        int k;

        memset(&e, 0, sizeof e);
        st = ecl_audit_db_entry(wt, seq, &v);
        if (st == ECL_OK) {
            st = ecl_audit_leaf_open(a->kr, v.ptr, v.len, &h, &e.payload);
        }
        if (st != ECL_OK) {
            break;
        }
        e.seq = seq;
        e.time_ms = h.time_ms;
        k = ecl_audit_entry_counted(&e, &at, &window, &records);
        if (k < 0) {
            st = ECL_ERR_INVALID;
        } else if (k > 0) {
            const char *p = json_string_value(json_object_get(e.payload, "principal"));
            const char *r = json_string_value(json_object_get(e.payload, "rule"));
            st = p == NULL || r == NULL ? ECL_OK
                                        : ecl_audit_limits_add(a->lim, p, r, at, window, records);
            st = st == ECL_ERR_INVALID ? ECL_OK : st; /* names no (agent, rule): not counted */
        }
        json_decref(e.payload);
        a->ckpt_entries++;
    }
    if (st != ECL_OK) {
        ecl_audit_limits_free(a->lim);
        a->lim = NULL;
        return;
    }
    a->lim_next = size;
}

/* Whether this batch writes the rate-limit checkpoint. */
static int
ckpt_is_due(const struct ecl_audit *a, uint64_t t)
{
    if (a->lim == NULL) {
        return 0;
    }
    if (a->ckpt_due) {
        return 1;
    }
    if (a->ckpt_every > 0) {
        return a->ckpt_entries >= a->ckpt_every;
    }
    return a->ckpt_entries > 0 &&
           (a->ckpt_entries >= ECL_AUDIT_LIMITS_CHECKPOINT_ENTRIES ||
            t - a->ckpt_time >= ECL_AUDIT_LIMITS_CHECKPOINT_S * 1000u || t < a->ckpt_time);
}

/* Seals one batch and commits it.  On success a->fr and a->last_time advance and every item
 * has its seq. */
static enum ecl_status
commit_batch(struct ecl_audit *a, struct item **items, size_t n)
{
    struct ecl_audit_txn *wt = NULL;
    struct ecl_merkle_frontier fr;
    struct ecl_merkle_node done[ECL_MERKLE_MAX_DEPTH + 1];
    struct ecl_buf *leaves = NULL;
    struct ecl_buf body;
    struct ecl_buf note;
    struct ecl_buf ck;
    struct batch b;
    uint8_t root[ECL_HASH_LEN];
    uint8_t leaf_hash[ECL_HASH_LEN];
    uint64_t t = a->now_ms(a->now_arg);
    uint64_t old_size;
    size_t ntok = 0;
    size_t nps = 0;
    enum ecl_status st;

    memset(&b, 0, sizeof b);
    ecl_buf_init(&body, ECL_NOTE_MAX_BYTES);
    ecl_buf_init(&note, ECL_NOTE_MAX_BYTES);
    ecl_buf_init(&ck, ECL_AUDIT_LIMITS_CHECKPOINT_MAX_BYTES);
    st = write_begin(a, &wt);
    if (st != ECL_OK) {
        goto out;
    }
    fr = a->fr;
    old_size = fr.size;
    lim_catch_up(a, wt, old_size);
    if (t < a->last_time) {
        t = a->last_time; /* times never decrease, even if the clock steps back */
    }
    for (size_t i = 0; i < n; i++) {
        ntok += items[i]->ntokens + 1;
        nps += items[i]->nprows;
    }
    /* per item: entry + up to 65 nodes + tokens + pseudonym rows; plus the checkpoint */
    b.cap_rows = n * (2 + ECL_MERKLE_MAX_DEPTH) + ntok + nps + 2;
    b.cap = n * (8 + (ECL_MERKLE_MAX_DEPTH + 1) * (ECL_AUDIT_NODE_KEY_LEN + ECL_HASH_LEN)) +
            ntok * ECL_AUDIT_IDX_KEY_LEN + 8;
    b.rows = calloc(b.cap_rows, sizeof *b.rows);
    b.arena = malloc(b.cap);
    leaves = calloc(n, sizeof *leaves);
    if (b.rows == NULL || b.arena == NULL || leaves == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ecl_buf_init(&leaves[i], ECL_AUDIT_ENTRY_MAX_BYTES);
    }
    for (size_t i = 0; i < n && st == ECL_OK; i++) {
        struct item *it = items[i];
        size_t ndone = 0;
        uint8_t *k;

        it->seq = fr.size;
        st = ecl_audit_leaf_seal(a->kr, it->seq, t, it->principal_token, it->tokens, it->ntokens,
                                 it->payload.ptr, it->payload.len, &leaves[i]);
        if (st != ECL_OK) {
            break;
        }
        ecl_merkle_leaf_hash(leaves[i].ptr, leaves[i].len, leaf_hash);
        st = ecl_merkle_frontier_append(&fr, leaf_hash, done, &ndone);
        k = arena_take(&b, 8);
        if (st != ECL_OK || k == NULL) {
            st = st != ECL_OK ? st : ECL_ERR_INTERNAL;
            break;
        }
        ecl_put_u64(k, it->seq);
        st = row_add(&b, ECL_AUDIT_T_ENTRIES, k, 8, leaves[i].ptr, leaves[i].len);
        for (size_t j = 0; j < ndone && st == ECL_OK; j++) {
            uint8_t *nk = arena_take(&b, ECL_AUDIT_NODE_KEY_LEN + ECL_HASH_LEN);
            if (nk == NULL) {
                st = ECL_ERR_INTERNAL;
                break;
            }
            ecl_audit_db_node_key(done[j].level, done[j].index, nk);
            memcpy(nk + ECL_AUDIT_NODE_KEY_LEN, done[j].hash, ECL_HASH_LEN);
            st = row_add(&b, ECL_AUDIT_T_NODES, nk, ECL_AUDIT_NODE_KEY_LEN,
                         nk + ECL_AUDIT_NODE_KEY_LEN, ECL_HASH_LEN);
        }
        if (st == ECL_OK && !token_is_zero(it->principal_token)) {
            st = idx_row(&b, ECL_AUDIT_T_IDX_PRINCIPAL, it->principal_token, it->seq);
        }
        for (size_t j = 0; j < it->ntokens && st == ECL_OK; j++) {
            st =
                idx_row(&b, ECL_AUDIT_T_IDX_SUBJECT, it->tokens + j * ECL_AUDIT_TOKEN_LEN, it->seq);
        }
        for (size_t j = 0; j < it->nprows && st == ECL_OK; j++) {
            st = row_add(&b, ECL_AUDIT_T_PSEUDO, it->prows[j].key, it->prows[j].key_len,
                         it->prows[j].val, it->prows[j].val_len);
        }
        if (st == ECL_OK && a->lim != NULL && it->counts &&
            ecl_audit_limits_add(a->lim, it->principal, it->rule,
                                 it->at_entry_time ? (int64_t)(t / 1000u) : it->at, it->window,
                                 it->records) != ECL_OK) {
            ecl_audit_limits_free(a->lim); /* too many keys: no checkpoint from now on */
            a->lim = NULL;
        }
    }
    if (st == ECL_OK && a->lim != NULL) {
        a->lim_next = fr.size;
        a->ckpt_entries += n;
    }
    if (st == ECL_OK && ckpt_is_due(a, t)) {
        ecl_audit_limits_prune(a->lim);
        if (ecl_audit_limits_seal(a->kr, a->lim, a->lim_next, &ck) == ECL_OK) {
            st = row_add(&b, ECL_AUDIT_T_META, (const uint8_t *)ECL_AUDIT_LIMITS_META_KEY,
                         sizeof ECL_AUDIT_LIMITS_META_KEY - 1, ck.ptr, ck.len);
            a->ckpt_due = 0;
            a->ckpt_entries = 0;
            a->ckpt_time = t;
        } else {
            ecl_audit_limits_free(a->lim); /* over the size cap: no checkpoint from now on */
            a->lim = NULL;
        }
    }
    if (st == ECL_OK) {
        uint8_t *k = arena_take(&b, 8);
        ecl_merkle_frontier_root(&fr, root);
        st = k == NULL ? ECL_ERR_INTERNAL
                       : ecl_checkpoint_format(ecl_keyring_origin(a->kr), fr.size, root, &body);
        if (st == ECL_OK) {
            st = ecl_note_sign(a->kr, (const char *)body.ptr, body.len, &note);
        }
        if (st == ECL_OK) {
            ecl_put_u64(k, fr.size);
            st = row_add(&b, ECL_AUDIT_T_CHECKPOINTS, k, 8, note.ptr, note.len);
        }
    }
    if (st == ECL_OK) {
        st = ecl_audit_db_commit_txn(wt, old_size, fr.size, b.rows, b.nrows);
        wt = NULL;
    }
    if (st == ECL_OK) {
        a->fr = fr;
        a->last_time = t;
    } else {
        ecl_audit_limits_free(a->lim); /* the log is sealed from now on */
        a->lim = NULL;
    }
out:
    ecl_audit_db_end(wt);
    if (leaves != NULL) {
        for (size_t i = 0; i < n; i++) {
            ecl_buf_free(&leaves[i]);
        }
    }
    free(leaves);
    free(b.rows);
    free(b.arena);
    ecl_buf_free(&body);
    ecl_buf_free(&note);
    ecl_buf_free(&ck);
    return st;
}

static void
finish(struct item **items, size_t n, enum ecl_status st)
{
    for (size_t i = 0; i < n; i++) {
        items[i]->done(items[i]->arg, st, st == ECL_OK ? items[i]->seq : 0);
        item_free(items[i]);
    }
}

static void *
writer_main(void *arg)
{
    struct ecl_audit *a = arg;
    struct item **batch = a->batch;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        size_t n = 0;
        enum ecl_status st;

        while (a->head == NULL && !a->closing) {
            pthread_cond_wait(&a->cv, &a->mu);
        }
        if (a->head == NULL) {
            break;
        }
        while (a->head != NULL && n < ECL_AUDIT_BATCH_MAX) {
            batch[n++] = a->head;
            a->head = a->head->next;
            a->queued--;
        }
        if (a->head == NULL) {
            a->tail = NULL;
        }
        if (a->seed != NULL) {
            ecl_audit_limits_free(a->lim);
            a->lim = a->seed;
            a->lim_next = a->seed_next;
            a->seed = NULL;
            a->ckpt_due = 1;
            a->ckpt_entries = 0;
        }
        if (a->sealed) {
            st = ECL_ERR_SEALED;
        } else {
            pthread_mutex_unlock(&a->mu);
            if (a->delay_ms > 0) {
                struct timespec d = {.tv_sec = (time_t)(a->delay_ms / 1000u),
                                     .tv_nsec = (long)(a->delay_ms % 1000u) * 1000000L};
                nanosleep(&d, NULL);
            }
            st = commit_batch(a, batch, n);
            pthread_mutex_lock(&a->mu);
            if (st == ECL_OK) {
                a->nentries += n;
                a->ncommits++;
            } else if (!a->sealed) {
                a->sealed = 1;
                a->why = seal_reason(st);
            }
        }
        pthread_mutex_unlock(&a->mu);
        finish(batch, n, st);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

enum ecl_status
ecl_audit_open(struct ecl_store *store, const struct ecl_keyring *kr, struct ecl_audit **out)
{
    struct ecl_audit *a;
    enum ecl_status st;

    if (!ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        return ECL_ERR_NOMEM;
    }
    a->store = store;
    a->kr = kr;
    a->now_ms = real_now_ms;
    a->queue_max = queue_max_from_env();
    a->delay_ms = delay_from_env();
    a->ckpt_every = every_from_env();
    ecl_merkle_frontier_init(&a->fr);
    st = recover(a);
    if (st != ECL_OK) {
        free(a);
        return st;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return ECL_ERR_NOMEM;
    }
    *out = a;
    return ECL_OK;
}

void
ecl_audit_close(struct ecl_audit *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->closing = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    ecl_audit_limits_free(a->seed);
    ecl_audit_limits_free(a->lim);
    free(a);
}

void
ecl_audit_limits_seed(struct ecl_audit *a, struct ecl_audit_limits *t, uint64_t next)
{
    pthread_mutex_lock(&a->mu);
    ecl_audit_limits_free(a->seed);
    a->seed = t;
    a->seed_next = next;
    pthread_mutex_unlock(&a->mu);
}

void
ecl_audit_set_clock(struct ecl_audit *a, uint64_t (*now_ms)(void *arg), void *arg)
{
    pthread_mutex_lock(&a->mu);
    a->now_ms = now_ms != NULL ? now_ms : real_now_ms;
    a->now_arg = arg;
    pthread_mutex_unlock(&a->mu);
}

/* Copies the event's pseudonym index rows (checked) into it. */
static enum ecl_status
prows_copy(const struct ecl_audit_event *ev, struct item *it)
{
    if (ev->npseudo == 0) {
        return ECL_OK;
    }
    if (ev->pseudo == NULL || ev->npseudo > ECL_AUDIT_PSEUDO_PER_ENTRY) {
        return ECL_ERR_INVALID;
    }
    it->prows = calloc(ev->npseudo, sizeof *it->prows);
    if (it->prows == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i < ev->npseudo; i++) {
        const struct ecl_audit_pseudo *p = &ev->pseudo[i];
        struct prow *r = &it->prows[i];
        if (p->val_len == 0 || p->val_len > ECL_PSEUDO_VALUE_MAX ||
            !ecl_store_pseudo_key(p->key, ev->dataset, r->key, &r->key_len)) {
            return ECL_ERR_INVALID; /* item_free releases prows */
        }
        memcpy(r->val, p->val, p->val_len);
        r->val_len = p->val_len;
    }
    it->nprows = ev->npseudo;
    return ECL_OK;
}

static enum ecl_status
item_build(const struct ecl_audit *a, const struct ecl_audit_event *ev, struct item **out)
{
    const uint8_t *key = ecl_keyring_key(a->kr, ECL_KEY_AUDIT_INDEX);
    struct item *it = calloc(1, sizeof *it);
    enum ecl_status st;

    if (it == NULL) {
        return ECL_ERR_NOMEM;
    }
    ecl_buf_init(&it->payload, ECL_AUDIT_ENTRY_MAX_BYTES);
    st = prows_copy(ev, it);
    if (st == ECL_OK) {
        st = ecl_audit_payload_build(ev, &it->payload);
    }
    if (st == ECL_OK && ev->nsubjects > 0) {
        it->tokens = malloc(ev->nsubjects * ECL_AUDIT_TOKEN_LEN);
        st = it->tokens == NULL ? ECL_ERR_NOMEM : ECL_OK;
    }
    if (st != ECL_OK) {
        item_free(it);
        return st;
    }
    for (size_t i = 0; i < ev->nsubjects; i++) {
        ecl_audit_token(key, ECL_AUDIT_TOK_SUBJECT, ev->subjects[i], strlen(ev->subjects[i]),
                        it->tokens + i * ECL_AUDIT_TOKEN_LEN);
    }
    it->ntokens = ecl_audit_tokens_sort(it->tokens, ev->nsubjects);
    /* what the rebuild will read in this entry (ecl_audit_entry_counted) */
    if ((ev->kind == ECL_AUDIT_RECORD_READ || ev->kind == ECL_AUDIT_RECORD_QUERY) &&
        ev->principal != NULL && ev->rule_id != NULL && *ev->principal != 0 && *ev->rule_id != 0 &&
        strlen(ev->principal) <= ECL_NAME_MAX_LEN && strlen(ev->rule_id) <= ECL_NAME_MAX_LEN) {
        if (ev->counted != NULL) {
            it->counts = 1;
            it->at = ev->counted->at;
            it->window = ev->counted->window;
            it->records = ev->counted->records;
        } else if (ev->decision == ECL_AUDIT_ALLOW) {
            it->counts = 1;
            it->at_entry_time = 1;
            it->window = -1;
            it->records = ev->kind == ECL_AUDIT_RECORD_READ ? 1 : ev->nsubjects;
        }
        if (it->counts) {
            memcpy(it->principal, ev->principal, strlen(ev->principal) + 1);
            memcpy(it->rule, ev->rule_id, strlen(ev->rule_id) + 1);
        }
    }
    if (ev->principal != NULL) {
        ecl_audit_token(key, ECL_AUDIT_TOK_PRINCIPAL, ev->principal, strlen(ev->principal),
                        it->principal_token);
    }
    *out = it;
    return ECL_OK;
}

enum ecl_status
ecl_audit_submit(struct ecl_audit *a, const struct ecl_audit_event *ev, ecl_audit_done_fn done,
                 void *arg)
{
    struct item *it = NULL;
    enum ecl_status st = ECL_OK;

    if (done == NULL) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(item_build(a, ev, &it));
    it->done = done;
    it->arg = arg;
    pthread_mutex_lock(&a->mu);
    if (a->sealed || a->closing) {
        st = ECL_ERR_SEALED;
    } else if (a->queued >= a->queue_max) {
        st = ECL_ERR_LIMIT;
    } else {
        if (a->tail != NULL) {
            a->tail->next = it;
        } else {
            a->head = it;
        }
        a->tail = it;
        a->queued++;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (st != ECL_OK) {
        item_free(it);
    }
    return st;
}

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    enum ecl_status st;
    uint64_t seq;
};

static void
sync_done(void *arg, enum ecl_status st, uint64_t seq)
{
    struct sync_wait *w = arg;

    pthread_mutex_lock(&w->mu);
    w->st = st;
    w->seq = seq;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

enum ecl_status
ecl_audit_append_sync(struct ecl_audit *a, const struct ecl_audit_event *ev, uint64_t *seq)
{
    struct sync_wait w;
    enum ecl_status st;

    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    st = ecl_audit_submit(a, ev, sync_done, &w);
    if (st == ECL_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
        st = w.st;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (st == ECL_OK) {
        *seq = w.seq;
    }
    return st;
}

int
ecl_audit_health(struct ecl_audit *a, const char **why)
{
    int ok;

    pthread_mutex_lock(&a->mu);
    ok = !a->sealed;
    if (!ok && why != NULL) {
        *why = a->why;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

void
ecl_audit_stats(struct ecl_audit *a, uint64_t *entries, uint64_t *commits)
{
    pthread_mutex_lock(&a->mu);
    *entries = a->nentries;
    *commits = a->ncommits;
    pthread_mutex_unlock(&a->mu);
}
