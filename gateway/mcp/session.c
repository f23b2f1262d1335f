/* The session table: a fixed array of ECL_MCP_MAX_SESSIONS slots behind one mutex.  A session
 * id is the slot number (8 hex digits) followed by ECL_MCP_SESSION_ID_BYTES random bytes in
 * hex, so a look-up is one slot and one constant-time comparison; the slot number is not
 * secret, the random part is what makes an id unguessable (MCP 2025-11-25 basic/transports,
 * "Session Management": globally unique, cryptographically secure, visible ASCII).
 *
 * A session remembers the agent that created it and the negotiated protocol version.  It is
 * never authentication: ecl_mcp_handle only runs for an authenticated agent, and a session of
 * another agent is answered exactly like an unknown one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "mcp_internal.h"

struct session {
    int live;
    char id[ECL_MCP_SESSION_ID_LEN + 1];
    char agent[ECL_NAME_MAX_LEN + 1];
    unsigned version;
    uint64_t last_ms;
};

struct session_table {
    pthread_mutex_t mu;
    struct session *slots;
    size_t max;
    uint64_t idle_ms;
    void (*rnd)(void *, size_t);
    uint64_t (*now_ms)(void);
};

enum ecl_status
session_table_new(size_t max, uint64_t idle_ms, void (*rnd)(void *, size_t),
                  uint64_t (*now_ms)(void), struct session_table **out)
{
    struct session_table *t;

    /* The slot number must fit in 8 hex digits. */
    if (max == 0 || max > 0xFFFFFFFFu || rnd == NULL || now_ms == NULL) {
        return ECL_ERR_INVALID;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    t->slots = calloc(max, sizeof *t->slots);
    if (t->slots == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t->slots);
        free(t);
        return ECL_ERR_NOMEM;
    }
    t->max = max;
    t->idle_ms = idle_ms;
    t->rnd = rnd;
    t->now_ms = now_ms;
    *out = t;
    return ECL_OK;
}

void
session_table_free(struct session_table *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_destroy(&t->mu);
    ecl_wipe(t->slots, t->max * sizeof *t->slots);
    free(t->slots);
    free(t);
}

static int
expired(const struct session_table *t, const struct session *s, uint64_t now)
{
    return now >= s->last_ms && now - s->last_ms > t->idle_ms;
}

static void
end(struct session *s)
{
    ecl_wipe(s, sizeof *s);
}

enum ecl_status
session_create(struct session_table *t, const char *agent, unsigned version,
               char id_out[ECL_MCP_SESSION_ID_LEN + 1])
{
    uint8_t rnd[ECL_MCP_SESSION_ID_BYTES];
    size_t agent_len = strlen(agent);
    size_t free_slot = t->max;
    size_t idlest = t->max;
    size_t mine = 0;
    size_t slot;
    uint64_t now;
    struct session *s;

    if (agent_len == 0 || agent_len > ECL_NAME_MAX_LEN) {
        return ECL_ERR_INVALID;
    }
    pthread_mutex_lock(&t->mu);
    now = t->now_ms();
    for (size_t i = 0; i < t->max; i++) {
        s = &t->slots[i];
        if (s->live && expired(t, s, now)) {
            end(s);
        }
        if (!s->live) {
            if (free_slot == t->max) {
                free_slot = i;
            }
            continue;
        }
        if (strcmp(s->agent, agent) == 0) {
            mine++;
            if (idlest == t->max || s->last_ms < t->slots[idlest].last_ms) {
                idlest = i;
            }
        }
    }
    /* An agent that opens too many sessions loses its idlest one, not somebody else's. */
    if (mine >= ECL_MCP_MAX_SESSIONS_PER_AGENT) {
        end(&t->slots[idlest]);
        slot = idlest;
    } else if (free_slot < t->max) {
        slot = free_slot;
    } else {
        pthread_mutex_unlock(&t->mu);
        return ECL_ERR_FULL;
    }
    s = &t->slots[slot];
    t->rnd(rnd, sizeof rnd);
    /* 8 hex digits of the slot, then the random bytes in hex: visible ASCII only. */
    for (int i = 0; i < 8; i++) {
        s->id[i] = "0123456789abcdef"[(slot >> (28 - 4 * i)) & 0xF];
    }
    ecl_hex(rnd, sizeof rnd, s->id + 8);
    memcpy(s->agent, agent, agent_len + 1);
    s->version = version;
    s->last_ms = now;
    s->live = 1;
    memcpy(id_out, s->id, ECL_MCP_SESSION_ID_LEN + 1);
    pthread_mutex_unlock(&t->mu);
    ecl_wipe(rnd, sizeof rnd);
    return ECL_OK;
}

/* The slot an id names, or t->max when the id is not of our form. */
static size_t
slot_of(const struct session_table *t, const char *id)
{
    size_t slot = 0;

    if (strlen(id) != ECL_MCP_SESSION_ID_LEN) {
        return t->max;
    }
    for (size_t i = 0; i < ECL_MCP_SESSION_ID_LEN; i++) {
        char c = id[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else {
            return t->max;
        }
        if (i < 8) {
            slot = slot << 4 | d;
        }
    }
    return slot < t->max ? slot : t->max;
}

/* With the lock held: the live session id of agent, or NULL. */
static struct session *
find(struct session_table *t, const char *id, const char *agent, uint64_t now)
{
    size_t slot = slot_of(t, id);
    struct session *s;

    if (slot == t->max) {
        return NULL;
    }
    s = &t->slots[slot];
    if (!s->live) {
        return NULL;
    }
    if (expired(t, s, now)) {
        end(s);
        return NULL;
    }
    /* Constant time on the random part, so that response timing cannot guess it byte by
     * byte; both ids have the length checked by slot_of. */
    if (!ecl_crypto_equal(s->id, id, ECL_MCP_SESSION_ID_LEN) || strcmp(s->agent, agent) != 0) {
        return NULL;
    }
    return s;
}

enum session_lookup
session_touch(struct session_table *t, const char *id, const char *agent, unsigned *version)
{
    struct session *s;
    enum session_lookup r = SESSION_UNKNOWN;

    pthread_mutex_lock(&t->mu);
    s = find(t, id, agent, t->now_ms());
    if (s != NULL) {
        s->last_ms = t->now_ms();
        *version = s->version;
        r = SESSION_FOUND;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

enum session_lookup
session_end(struct session_table *t, const char *id, const char *agent)
{
    struct session *s;
    enum session_lookup r = SESSION_UNKNOWN;

    pthread_mutex_lock(&t->mu);
    s = find(t, id, agent, t->now_ms());
    if (s != NULL) {
        end(s);
        r = SESSION_FOUND;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

size_t
session_count(struct session_table *t)
{
    size_t n = 0;
    uint64_t now;

    pthread_mutex_lock(&t->mu);
    now = t->now_ms();
    for (size_t i = 0; i < t->max; i++) {
        if (t->slots[i].live && !expired(t, &t->slots[i], now)) {
            n++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}
