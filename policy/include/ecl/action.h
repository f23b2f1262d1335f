/* A field action of the policy's plan: what happens to one field on its way out.  Shared by
 * the policy engine (which produces plans) and the transforms in crypto/ (which apply them).
 * See docs/policy.md and docs/transforms.md. */
#ifndef ECL_ACTION_H
#define ECL_ACTION_H

#include "ecl/limits.h"

enum ecl_action_kind {
    ECL_ACT_ALLOW = 0,    /* released as stored */
    ECL_ACT_PSEUDONYMIZE, /* keyed pseudonym "ps_..." in a linkability domain */
    ECL_ACT_TOKENIZE,     /* reversible token "tk_...", re-identifiable by a DPO only */
    ECL_ACT_MASK,         /* keep the first / last N code points, mask the rest */
    ECL_ACT_GENERALIZE,   /* coarser value (year, month, age band, bucket, prefix) */
    ECL_ACT_REDACT,       /* the field is present with the value null */
};
#define ECL_ACT_COUNT 6

/* Who can link two pseudonyms of the same person. */
enum ecl_link_domain {
    ECL_DOMAIN_AGENT = 0,     /* one domain per agent (all its purposes) */
    ECL_DOMAIN_PURPOSE,       /* one domain per purpose (shared by the agents of it) */
    ECL_DOMAIN_AGENT_PURPOSE, /* one domain per (agent, purpose) */
    ECL_DOMAIN_SHARED,        /* a named domain, shared by every rule that names it */
};
#define ECL_DOMAIN_COUNT 4

enum ecl_generalize_kind {
    ECL_GEN_DATE_YEAR = 0, /* date -> "YYYY" */
    ECL_GEN_DATE_MONTH,    /* date -> "YYYY-MM" */
    ECL_GEN_AGE_BAND,      /* birth date -> "30-39" (band width in years) at request time */
    ECL_GEN_NUMBER_BUCKET, /* number -> "[1000, 1500)" lower-inclusive buckets of width W */
    ECL_GEN_STRING_PREFIX, /* string -> its first N code points */
};
#define ECL_GEN_COUNT 5

struct ecl_action {
    enum ecl_action_kind kind;
    /* PSEUDONYMIZE and TOKENIZE */
    enum ecl_link_domain domain;
    char shared_domain[ECL_NAME_MAX_LEN + 1]; /* ECL_DOMAIN_SHARED: its name */
    /* MASK */
    unsigned keep_first;
    unsigned keep_last;
    /* GENERALIZE */
    enum ecl_generalize_kind gen;
    unsigned band_years; /* AGE_BAND: width in years (>= 1) */
    double bucket_width; /* NUMBER_BUCKET: width (> 0) */
    unsigned prefix_len; /* STRING_PREFIX: code points kept (>= 1) */
};

#endif
