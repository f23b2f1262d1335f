/* The per-(agent, rule) limit counters of the disclosure path (docs/api.md "Limits"):
 * requests_per_minute in fixed one-minute windows starting at the first admitted request of a
 * window, records_per_day in UTC days.  A request is counted in the minute window when it is
 * admitted; records are reserved when admitted and what was not released is given back.
 *
 * The counters live in memory and are rebuilt at start-up from the audit log, which records in
 * every entry of an admitted request what it counted (struct ecl_audit_counted): a restart, a
 * deploy or a crash does not hand an agent a fresh allowance.  Thread-safe (striped mutexes),
 * except ecl_api_limits_rebuild, which runs before the table is shared. */
#ifndef ECL_API_LIMITS_H
#define ECL_API_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "ecl/policy.h"
#include "ecl/status.h"
#include "store/store.h"

enum { ECL_MINUTE_S = 60, ECL_DAY_S = 86400 };

struct ecl_api_limits; /* opaque */

/* One counter as the table holds it (for tests and for the rebuild's checks). */
struct ecl_api_limit_counter {
    int64_t minute_start; /* start of the current requests_per_minute window */
    uint32_t minute_count;
    int64_t day_start; /* 00:00 UTC of the day counted */
    uint64_t day_count;
};

/* What ecl_api_limits_rebuild did, for the start-up log line (no personal data). */
struct ecl_api_limits_rebuilt {
    uint64_t entries;           /* audit entries read back */
    uint64_t counted;           /* of which entries of admitted requests that still count */
    size_t counters;            /* (agent, rule) counters rebuilt */
    uint64_t oldest_s;          /* entries older than this (Unix seconds) cannot count */
    int from_checkpoint;        /* 1: loaded the checkpoint and replayed only the entries after */
    uint64_t checkpoint_next;   /* the first entry the checkpoint does not cover */
    size_t checkpoint_counters; /* counters taken from it */
    /* the same counters by principal id, covering the entries with seq < seed_next: the
     * caller hands them to the audit writer (ecl_audit_limits_seed) or frees them */
    struct ecl_audit_limits *seed;
    uint64_t seed_next;
};

/* ecl_api_limits_rebuild's flags and *bad_seq naming the checkpoint rather than an entry. */
enum { ECL_API_LIMITS_NO_CHECKPOINT = 1 };
#define ECL_API_LIMITS_BAD_CHECKPOINT (UINT64_MAX - 1)

enum ecl_status ecl_api_limits_new(struct ecl_api_limits **out) ECL_WUR;
void ecl_api_limits_free(struct ecl_api_limits *l);

/* Admits one request of (agent, rule) at now: counts it against lim->requests_per_minute and
 * reserves up to want records of lim->records_per_day.  ECL_OK with *granted (<= want) and
 * *window (the start of the minute window it was counted in) when admitted; ECL_ERR_LIMIT with
 * *retry_after (seconds until the window frees, >= 1) when refused, also when the counter table
 * is full or out of memory (fail closed).  agent and rule are borrowed. */
enum ecl_status ecl_api_limits_admit(struct ecl_api_limits *l, const char *agent, const char *rule,
                                     const struct ecl_policy_limits *lim, int64_t now,
                                     uint64_t want, uint64_t *granted, int64_t *window,
                                     unsigned *retry_after) ECL_WUR;
/* Gives back unused records reserved by the admission made at now. */
void ecl_api_limits_return(struct ecl_api_limits *l, const char *agent, const char *rule,
                           int64_t now, uint64_t unused);
/* The counter of (agent, rule); ECL_ERR_NOT_FOUND when there is none. */
enum ecl_status ecl_api_limits_get(struct ecl_api_limits *l, const char *agent, const char *rule,
                                   struct ecl_api_limit_counter *out) ECL_WUR;

/* Rebuilds the counters of an empty table from the audit log at now.  When the audit log holds
 * a rate-limit checkpoint (audit.h) and flags lack ECL_API_LIMITS_NO_CHECKPOINT, its counters
 * are loaded (what is not of now's day, windows that have ended, principals the store does
 * not have dropped) and only the entries after it are read; a checkpoint that does not
 * authenticate or is malformed fails (ECL_ERR_CRYPTO / ECL_ERR_INVALID, *bad_seq
 * ECL_API_LIMITS_BAD_CHECKPOINT); one that counted requests after now (the clock went back) is
 * ignored.  Without one: reads the entries from the tail back (decrypting them with kr, which must
 * hold secrets) to the first one older than both the start of now's UTC day and now - ECL_MINUTE_S,
 * and for each entry of an admitted record.read / record.query (REST and MCP alike) adds its
 * released records to the day counter of (agent, rule) when its clock is in now's day, and counts
 * it in the latest minute window of (agent, rule).  The result is the table the live counters would
 * hold had the process not stopped (docs/api.md "Limits" for the exceptions).  Fails closed, with
 * *bad_seq naming the entry: ECL_ERR_CRYPTO (does not decrypt), ECL_ERR_INVALID (out of place, out
 * of time order, a malformed "counted", a principal the store does not have), ECL_ERR_LIMIT (more
 * than ECL_LIMIT_REBUILD_ENTRIES_MAX entries to read, or more counters or principals than the
 * limits); *bad_seq is UINT64_MAX when no entry is to blame.  Not thread-safe. */
enum ecl_status ecl_api_limits_rebuild(struct ecl_api_limits *l, struct ecl_store *s,
                                       const struct ecl_keyring *kr, int64_t now, unsigned flags,
                                       struct ecl_api_limits_rebuilt *out,
                                       uint64_t *bad_seq) ECL_WUR;

#endif
