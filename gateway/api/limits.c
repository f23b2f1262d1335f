/* The per-(agent, rule) limit counters and their rebuild from the audit log (limits.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "limits.h"
#include "store/principals.h"

struct limit_ctr {
    struct limit_ctr *next;
    char key[2 * (ECL_NAME_MAX_LEN + 1)]; /* agent \0 rule */
    size_t key_len;
    struct ecl_api_limit_counter v;
};

struct limit_stripe {
    pthread_mutex_t mu;
    struct limit_ctr *head;
    size_t n;
};

struct ecl_api_limits {
    struct limit_stripe stripes[ECL_LIMIT_STRIPES];
};

static int64_t
day_of(int64_t t)
{
    return t - (t % ECL_DAY_S + ECL_DAY_S) % ECL_DAY_S;
}

enum ecl_status
ecl_api_limits_new(struct ecl_api_limits **out)
{
    struct ecl_api_limits *l = calloc(1, sizeof *l);

    if (l == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i < ECL_LIMIT_STRIPES; i++) {
        pthread_mutex_init(&l->stripes[i].mu, NULL);
    }
    *out = l;
    return ECL_OK;
}

void
ecl_api_limits_free(struct ecl_api_limits *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < ECL_LIMIT_STRIPES; i++) {
        struct limit_ctr *c = l->stripes[i].head;
        while (c != NULL) {
            struct limit_ctr *next = c->next;
            free(c);
            c = next;
        }
        pthread_mutex_destroy(&l->stripes[i].mu);
    }
    free(l);
}

/* The key "agent \0 rule" into key (room for 2 * (ECL_NAME_MAX_LEN + 1)) and its stripe;
 * 0 when a name is too long. */
static size_t
key_make(struct ecl_api_limits *l, const char *agent, const char *rule, char *key,
         struct limit_stripe **st)
{
    size_t al = strlen(agent);
    size_t rl = strlen(rule);
    uint8_t h[16];

    if (al > ECL_NAME_MAX_LEN || rl > ECL_NAME_MAX_LEN) {
        return 0;
    }
    memcpy(key, agent, al + 1);
    memcpy(key + al + 1, rule, rl);
    ecl_crypto_blake2b(h, sizeof h, NULL, 0, key, al + 1 + rl);
    *st = &l->stripes[h[0] % ECL_LIMIT_STRIPES];
    return al + 1 + rl;
}

/* The counter of key in st (locked by the caller); a new one (minute_start and day_start as
 * given) when create and there is room; NULL otherwise. */
static struct limit_ctr *
ctr_find(struct limit_stripe *st, const char *key, size_t key_len, int create, int64_t minute,
         int64_t day)
{
    struct limit_ctr *c;

    for (c = st->head; c != NULL; c = c->next) {
        if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0) {
            return c;
        }
    }
    if (!create || st->n >= ECL_LIMIT_COUNTERS_MAX / ECL_LIMIT_STRIPES) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    memcpy(c->key, key, key_len);
    c->key_len = key_len;
    c->v.minute_start = minute;
    c->v.day_start = day;
    c->next = st->head;
    st->head = c;
    st->n++;
    return c;
}

enum ecl_status
ecl_api_limits_admit(struct ecl_api_limits *l, const char *agent, const char *rule,
                     const struct ecl_policy_limits *lim, int64_t now, uint64_t want,
                     uint64_t *granted, int64_t *window, unsigned *retry_after)
{
    char key[2 * (ECL_NAME_MAX_LEN + 1)];
    struct limit_stripe *st = NULL;
    struct limit_ctr *c;
    int64_t day = day_of(now);
    size_t kl = key_make(l, agent, rule, key, &st);
    unsigned retry = 1;
    enum ecl_status res = ECL_ERR_LIMIT;

    if (kl == 0) {
        *retry_after = 1;
        return ECL_ERR_LIMIT;
    }
    pthread_mutex_lock(&st->mu);
    c = ctr_find(st, key, kl, 1, now, day);
    if (c != NULL) {
        /* a refusal changes nothing: windows start at an admitted request, so that the audit
         * log (which records admissions) says where each window starts */
        struct ecl_api_limit_counter v = c->v;
        if (now >= v.minute_start + ECL_MINUTE_S || now < v.minute_start) {
            v.minute_start = now;
            v.minute_count = 0;
        }
        if (v.day_start != day) {
            v.day_start = day;
            v.day_count = 0;
        }
        if (v.minute_count >= lim->requests_per_minute) {
            retry = (unsigned)(v.minute_start + ECL_MINUTE_S - now);
        } else if (v.day_count >= lim->records_per_day) {
            retry = (unsigned)(day + ECL_DAY_S - now);
        } else {
            uint64_t left = lim->records_per_day - v.day_count;
            v.minute_count++;
            *granted = want < left ? want : left;
            *window = v.minute_start;
            v.day_count += *granted;
            c->v = v;
            res = ECL_OK;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (res != ECL_OK) {
        *retry_after = retry == 0 ? 1 : retry;
    }
    return res;
}

void
ecl_api_limits_return(struct ecl_api_limits *l, const char *agent, const char *rule, int64_t now,
                      uint64_t unused)
{
    char key[2 * (ECL_NAME_MAX_LEN + 1)];
    struct limit_stripe *st = NULL;
    struct limit_ctr *c;
    size_t kl = key_make(l, agent, rule, key, &st);

    if (unused == 0 || kl == 0) {
        return;
    }
    pthread_mutex_lock(&st->mu);
    c = ctr_find(st, key, kl, 0, 0, 0);
    if (c != NULL && c->v.day_start == day_of(now)) {
        c->v.day_count = c->v.day_count >= unused ? c->v.day_count - unused : 0;
    }
    pthread_mutex_unlock(&st->mu);
}

enum ecl_status
ecl_api_limits_get(struct ecl_api_limits *l, const char *agent, const char *rule,
                   struct ecl_api_limit_counter *out)
{
    char key[2 * (ECL_NAME_MAX_LEN + 1)];
    struct limit_stripe *st = NULL;
    struct limit_ctr *c;
    size_t kl = key_make(l, agent, rule, key, &st);
    enum ecl_status res = ECL_ERR_NOT_FOUND;

    if (kl == 0) {
        return ECL_ERR_NOT_FOUND;
    }
    pthread_mutex_lock(&st->mu);
    c = ctr_find(st, key, kl, 0, 0, 0);
    if (c != NULL) {
        *out = c->v;
        res = ECL_OK;
    }
    pthread_mutex_unlock(&st->mu);
    return res;
}

/* ---- rebuild from the audit log -------------------------------------------------------------- */

/* A principal id resolved to its name, for the entries of the walk. */
struct pname {
    struct pname *next;
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    char name[ECL_NAME_MAX_LEN + 1];
};

enum { PNAME_BUCKETS = 64 };

struct rebuild {
    struct ecl_api_limits *l;
    struct ecl_store *store;
    int64_t now;
    int64_t day;
    int64_t cutoff; /* entries (and requests) older than this cannot count */
    struct pname *names[PNAME_BUCKETS];
    size_t nnames;
    uint64_t entries;
    uint64_t counted;
    uint64_t last_seq;             /* the last entry given to the callback */
    uint64_t stop_before;          /* entries before this one are covered by the checkpoint */
    uint64_t newest;               /* the newest entry seen + 1 (0: none) */
    struct ecl_audit_limits *seed; /* the same counters by principal id, for the writer */
    enum ecl_status st;
};

/* The name of the principal whose hex id is hex; NULL (with r->st) when it cannot be. */
static const char *
pname_get(struct rebuild *r, const char *hex)
{
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    struct ecl_principal p;
    struct pname **b;
    struct pname *n;

    if (hex == NULL || strlen(hex) != 2 * ECL_PRINCIPAL_ID_LEN ||
        ecl_unhex(hex, strlen(hex), id, sizeof id) != ECL_OK) {
        r->st = ECL_ERR_INVALID;
        return NULL;
    }
    b = &r->names[id[0] % PNAME_BUCKETS];
    for (n = *b; n != NULL; n = n->next) {
        if (memcmp(n->id, id, sizeof id) == 0) {
            return n->name;
        }
    }
    if (r->nnames >= ECL_LIMIT_REBUILD_PRINCIPALS_MAX) {
        r->st = ECL_ERR_LIMIT;
        return NULL;
    }
    r->st = ecl_principal_get(r->store, id, &p);
    if (r->st == ECL_ERR_NOT_FOUND) {
        r->st = ECL_ERR_INVALID; /* an entry names a principal the store never had */
    }
    if (r->st != ECL_OK) {
        return NULL;
    }
    n = calloc(1, sizeof *n);
    if (n == NULL) {
        r->st = ECL_ERR_NOMEM;
        return NULL;
    }
    memcpy(n->id, id, sizeof id);
    memcpy(n->name, p.name, sizeof n->name);
    n->next = *b;
    *b = n;
    r->nnames++;
    return n->name;
}

static int
rebuild_entry(void *arg, const struct ecl_audit_entry *e)
{
    struct rebuild *r = arg;
    char key[2 * (ECL_NAME_MAX_LEN + 1)];
    struct limit_stripe *st = NULL;
    struct limit_ctr *c;
    const char *agent;
    const char *rule;
    int64_t at = 0;
    int64_t window = -1;
    uint64_t records = 0;
    int in_day;
    int in_minute;
    int k;
    size_t kl;

    r->last_seq = e->seq;
    if (r->newest == 0) {
        r->newest = e->seq + 1;
    }
    if (e->seq < r->stop_before) {
        return 1; /* the checkpoint counted it and everything before it */
    }
    if (r->entries >= ECL_LIMIT_REBUILD_ENTRIES_MAX) {
        r->st = ECL_ERR_LIMIT;
        return 1;
    }
    r->entries++;
    if (e->time_ms < (uint64_t)r->cutoff * 1000u) {
        /* every request counted in an older entry was admitted before the cutoff: at <= the
         * entry's time, and times never decrease along the log */
        return 1;
    }
    k = ecl_audit_entry_counted(e, &at, &window, &records);
    if (k < 0) {
        r->st = ECL_ERR_INVALID;
        return 1;
    }
    in_day = k > 0 && day_of(at) == r->day;
    in_minute = k > 0 && window >= 0 && window + ECL_MINUTE_S > r->now;
    if (!in_day && !in_minute) {
        return 0;
    }
    rule = json_string_value(json_object_get(e->payload, "rule"));
    agent = pname_get(r, json_string_value(json_object_get(e->payload, "principal")));
    kl = agent != NULL && rule != NULL ? key_make(r->l, agent, rule, key, &st) : 0;
    if (kl == 0 && json_object_get(e->payload, "counted") == NULL &&
        (r->st == ECL_OK || r->st == ECL_ERR_INVALID)) {
        r->st = ECL_OK; /* an older entry that names no (agent, rule) of ours: best effort */
        return 0;
    }
    if (kl == 0) {
        r->st = r->st == ECL_OK ? ECL_ERR_INVALID : r->st;
        return 1;
    }
    pthread_mutex_lock(&st->mu);
    c = ctr_find(st, key, kl, 1, 0, r->day);
    if (c != NULL) {
        if (in_day) {
            c->v.day_count += records;
        }
        /* windows never go back while the clock does not: the latest is the live one, and it
         * counted every admission that names it */
        if (in_minute && window > c->v.minute_start) {
            c->v.minute_start = window;
            c->v.minute_count = 1;
        } else if (in_minute && window == c->v.minute_start) {
            c->v.minute_count++;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (c == NULL) {
        r->st = ECL_ERR_LIMIT; /* more counters than the table holds */
        return 1;
    }
    r->st =
        ecl_audit_limits_add(r->seed, json_string_value(json_object_get(e->payload, "principal")),
                             rule, at, in_minute ? window : -1, in_day ? records : 0);
    if (r->st != ECL_OK) {
        return 1;
    }
    r->counted++;
    return 0;
}

struct ck_load {
    struct rebuild *r;
    size_t loaded;
    int stale; /* the checkpoint counted something after now: the clock went back */
};

static int
ck_check(void *arg, const struct ecl_audit_limit_row *row)
{
    struct ck_load *k = arg;

    if (row->day_start > k->r->day || row->minute_start > k->r->now) {
        k->stale = 1;
        return 1;
    }
    return 0;
}

/* One row of the checkpoint into the table and the seed, without what no longer counts at
 * now: another day, an ended window. */
static int
ck_row(void *arg, const struct ecl_audit_limit_row *row)
{
    struct ck_load *k = arg;
    struct rebuild *r = k->r;
    struct ecl_audit_limit_row keep = *row;
    char key[2 * (ECL_NAME_MAX_LEN + 1)];
    struct limit_stripe *st = NULL;
    struct limit_ctr *c;
    const char *agent;
    size_t kl;

    if (keep.day_start != r->day) {
        keep.day_start = -1;
        keep.day_count = 0;
    }
    if (keep.minute_start < 0 || keep.minute_start + ECL_MINUTE_S <= r->now) {
        keep.minute_start = -1;
        keep.minute_count = 0;
    }
    if (keep.day_start < 0 && keep.minute_start < 0) {
        return 0;
    }
    agent = pname_get(r, row->principal);
    if (agent == NULL && r->st == ECL_ERR_INVALID) {
        r->st = ECL_OK; /* a principal the store does not have: nobody can use its counter */
        return 0;
    }
    kl = agent != NULL ? key_make(r->l, agent, row->rule, key, &st) : 0;
    if (kl == 0) {
        r->st = r->st == ECL_OK ? ECL_ERR_INVALID : r->st;
        return 1;
    }
    pthread_mutex_lock(&st->mu);
    c = ctr_find(st, key, kl, 1, 0, r->day);
    if (c != NULL) {
        c->v.day_count = keep.day_start >= 0 ? keep.day_count : 0;
        c->v.minute_start = keep.minute_start >= 0 ? keep.minute_start : 0;
        c->v.minute_count = keep.minute_count;
    }
    pthread_mutex_unlock(&st->mu);
    if (c == NULL) {
        r->st = ECL_ERR_LIMIT;
        return 1;
    }
    r->st = ecl_audit_limits_put(r->seed, &keep);
    if (r->st != ECL_OK) {
        return 1;
    }
    k->loaded++;
    return 0;
}

/* Loads the checkpoint when there is a usable one: *used 1 and r->stop_before set. */
static enum ecl_status
ck_load(struct rebuild *r, const struct ecl_keyring *kr, int *used, size_t *loaded)
{
    struct ecl_audit_limits *ck = NULL;
    struct ck_load k = {r, 0, 0};
    uint64_t next = 0;
    enum ecl_status st = ecl_audit_limits_checkpoint_read(r->store, kr, &ck, &next);

    *used = 0;
    if (st == ECL_ERR_NOT_FOUND) {
        return ECL_OK; /* an older data directory: the walk reads the whole day */
    }
    ECL_GUARD(st);
    k.stale = ecl_audit_limits_latest(ck) > r->now;
    if (!k.stale) {
        ecl_audit_limits_each(ck, ck_check, &k);
    }
    if (!k.stale) {
        ecl_audit_limits_each(ck, ck_row, &k);
        st = r->st;
        r->st = ECL_OK;
        *used = st == ECL_OK;
        r->stop_before = next;
    }
    ecl_audit_limits_free(ck);
    *loaded = k.loaded;
    return st == ECL_ERR_NOMEM || st == ECL_ERR_LIMIT ? st
                                                      : (st == ECL_OK ? ECL_OK : ECL_ERR_INVALID);
}

enum ecl_status
ecl_api_limits_rebuild(struct ecl_api_limits *l, struct ecl_store *s, const struct ecl_keyring *kr,
                       int64_t now, unsigned flags, struct ecl_api_limits_rebuilt *out,
                       uint64_t *bad_seq)
{
    struct rebuild *r = calloc(1, sizeof *r);
    size_t loaded = 0;
    int used = 0;
    enum ecl_status st;

    if (r == NULL || ecl_audit_limits_new(&r->seed) != ECL_OK) {
        free(r);
        *bad_seq = UINT64_MAX;
        return ECL_ERR_NOMEM;
    }
    r->l = l;
    r->store = s;
    r->now = now;
    r->day = day_of(now);
    r->cutoff = now - ECL_MINUTE_S < r->day ? now - ECL_MINUTE_S : r->day;
    if (r->cutoff < 0) {
        r->cutoff = 0;
    }
    r->last_seq = UINT64_MAX;
    r->st = ECL_OK;
    st = (flags & ECL_API_LIMITS_NO_CHECKPOINT) != 0 ? ECL_OK : ck_load(r, kr, &used, &loaded);
    if (st != ECL_OK) {
        *bad_seq = st == ECL_ERR_NOMEM ? UINT64_MAX : ECL_API_LIMITS_BAD_CHECKPOINT;
        goto out;
    }
    st = ecl_audit_each_back(s, kr, rebuild_entry, r);
    if (st == ECL_OK) {
        st = r->st;
        if (st != ECL_OK) {
            *bad_seq = r->st == ECL_ERR_NOMEM ? UINT64_MAX : r->last_seq; /* refused there */
        }
    } else {
        /* the walk failed on the entry before the last one given (or on the newest) */
        *bad_seq = r->last_seq;
        if (r->last_seq != UINT64_MAX && r->last_seq > 0) {
            *bad_seq = r->last_seq - 1;
        } else if (r->last_seq == UINT64_MAX) {
            uint64_t size = 0;
            *bad_seq = ecl_audit_tree_size(s, &size) == ECL_OK && size > 0 ? size - 1 : UINT64_MAX;
        }
    }
    if (st == ECL_OK) {
        out->entries = r->entries;
        out->counted = r->counted;
        out->counters = 0;
        for (size_t i = 0; i < ECL_LIMIT_STRIPES; i++) {
            out->counters += l->stripes[i].n;
        }
        out->oldest_s = (uint64_t)r->cutoff;
        out->from_checkpoint = used;
        out->checkpoint_next = used ? r->stop_before : 0;
        out->checkpoint_counters = loaded;
        out->seed = r->seed;
        out->seed_next = r->newest;
        r->seed = NULL;
    }
out:
    ecl_audit_limits_free(r->seed);
    for (size_t i = 0; i < PNAME_BUCKETS; i++) {
        while (r->names[i] != NULL) {
            struct pname *n = r->names[i];
            r->names[i] = n->next;
            free(n);
        }
    }
    free(r);
    return st;
}
