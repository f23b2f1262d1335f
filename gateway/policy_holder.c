/* Lock-free publication of the compiled policy.  See policy_holder.h for the scheme. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "policy_holder.h"

struct snapshot {
    struct ecl_policy_view view; /* first: a view pointer is a snapshot pointer */
    struct ecl_policy *policy;   /* owned; NULL once freed */
    atomic_size_t refs;
    atomic_int retired;
    atomic_int freed;
    struct snapshot *next; /* every snapshot ever published, for ecl_policy_holder_free */
};

struct ecl_policy_holder {
    _Atomic(struct snapshot *) current;
    pthread_mutex_t wlock; /* publishers only */
    struct snapshot *all;
    size_t published;
    atomic_size_t live;
};

enum ecl_status
ecl_policy_holder_new(struct ecl_policy_holder **out)
{
    struct ecl_policy_holder *h = calloc(1, sizeof *h);

    if (h == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (pthread_mutex_init(&h->wlock, NULL) != 0) {
        free(h);
        return ECL_ERR_NOMEM;
    }
    atomic_init(&h->current, NULL);
    atomic_init(&h->live, 0);
    *out = h;
    return ECL_OK;
}

/* Frees the compiled policy of a retired, unreferenced snapshot exactly once. */
static void
reclaim(struct ecl_policy_holder *h, struct snapshot *s)
{
    if (atomic_load(&s->retired) && atomic_load(&s->refs) == 0 &&
        atomic_exchange(&s->freed, 1) == 0) {
        ecl_policy_free(s->policy);
        s->policy = NULL;
        atomic_fetch_sub(&h->live, 1);
    }
}

void
ecl_policy_holder_free(struct ecl_policy_holder *h)
{
    struct snapshot *s;

    if (h == NULL) {
        return;
    }
    s = h->all;
    while (s != NULL) {
        struct snapshot *next = s->next;
        if (!atomic_load(&s->freed)) {
            ecl_policy_free(s->policy);
        }
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&h->wlock);
    free(h);
}

enum ecl_status
ecl_policy_holder_publish(struct ecl_policy_holder *h, struct ecl_policy *policy, uint64_t version,
                          const char *hash)
{
    struct snapshot *s = calloc(1, sizeof *s);
    struct snapshot *old;

    if (s == NULL || strlen(hash) != 2 * ECL_HASH_LEN) {
        free(s);
        ecl_policy_free(policy);
        return s == NULL ? ECL_ERR_NOMEM : ECL_ERR_INVALID;
    }
    s->policy = policy;
    s->view.policy = policy;
    s->view.version = version;
    memcpy(s->view.hash, hash, 2 * ECL_HASH_LEN + 1);
    atomic_init(&s->refs, 0);
    atomic_init(&s->retired, 0);
    atomic_init(&s->freed, 0);

    pthread_mutex_lock(&h->wlock);
    s->next = h->all;
    h->all = s;
    h->published++;
    atomic_fetch_add(&h->live, 1);
    old = atomic_exchange(&h->current, s);
    if (old != NULL) {
        /* from here no reader can newly pass the re-check on old */
        atomic_store(&old->retired, 1);
        reclaim(h, old);
    }
    pthread_mutex_unlock(&h->wlock);
    return ECL_OK;
}

const struct ecl_policy_view *
ecl_policy_holder_acquire(struct ecl_policy_holder *h)
{
    for (;;) {
        struct snapshot *s = atomic_load(&h->current);
        if (s == NULL) {
            return NULL;
        }
        atomic_fetch_add(&s->refs, 1);
        /* Still current after our increment: the publisher that retires s will see our
         * reference (sequentially consistent order), so s->policy stays alive. */
        if (atomic_load(&h->current) == s) {
            return &s->view;
        }
        ecl_policy_holder_release(h, &s->view);
    }
}

void
ecl_policy_holder_release(struct ecl_policy_holder *h, const struct ecl_policy_view *v)
{
    struct snapshot *s = (struct snapshot *)(uintptr_t)v;

    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        reclaim(h, s);
    }
}

void
ecl_policy_holder_stats(struct ecl_policy_holder *h, size_t *published, size_t *live)
{
    pthread_mutex_lock(&h->wlock);
    *published = h->published;
    pthread_mutex_unlock(&h->wlock);
    *live = atomic_load(&h->live);
}
