/* Policy parsing, validation and compilation.  See docs/policy.md for the document format.
 *
 * One pass collects every problem into diags (with its JSON pointer) while building the
 * compiled tables; if any problem was found, everything built is freed: a policy is loaded
 * wholly or not at all. */
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

/* ---- small helpers -------------------------------------------------------------------------- */

uint64_t
ecl_policy_hash_str(uint64_t h, const char *s)
{
    /* FNV-1a; a terminating 0 byte separates concatenated keys */
    for (; *s != 0; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0;
    h *= 0x100000001b3ULL;
    return h;
}

uint64_t
ecl_policy_hash_u64(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int
id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ECL_NAME_MAX_LEN) {
        return 0;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

/* Context of one parse. */
struct ctx {
    struct ecl_policy *p;
    const struct ecl_schema *const *schemas;
    size_t nschemas;
    struct ecl_diags *d;
    int nomem;
};

static void *
ctx_calloc(struct ctx *c, size_t n, size_t size)
{
    void *v;

    if (n == 0) {
        return NULL;
    }
    v = calloc(n, size);
    if (v == NULL) {
        c->nomem = 1;
    }
    return v;
}

/* An id: a string matching id_ok.  NULL (with a diagnostic) otherwise. */
static const char *
get_id(struct ctx *c, const json_t *obj, const char *key, const char *path, const char *what)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v = json_object_get(obj, key);

    ecl_json_pointer_join(p, sizeof p, path, key);
    if (v == NULL) {
        ecl_diags_add(c->d, p, "%s is required", what);
        return NULL;
    }
    if (!json_is_string(v) || !id_ok(json_string_value(v))) {
        ecl_diags_add(c->d, p,
                      "%s must be 1 to %d letters, digits, '_', '-' or '.', starting with a "
                      "letter",
                      what, ECL_NAME_MAX_LEN);
        return NULL;
    }
    return json_string_value(v);
}

/* An optional (or required) text of at most ECL_POLICY_MAX_TEXT bytes. */
static const char *
get_text(struct ctx *c, const json_t *obj, const char *key, const char *path, int required)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v = json_object_get(obj, key);

    ecl_json_pointer_join(p, sizeof p, path, key);
    if (v == NULL) {
        if (required) {
            ecl_diags_add(c->d, p, "%s is required", key);
        }
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > ECL_POLICY_MAX_TEXT) {
        ecl_diags_add(c->d, p, "%s must be a string of 1 to %d bytes", key, ECL_POLICY_MAX_TEXT);
        return NULL;
    }
    return json_string_value(v);
}

/* An optional boolean (default false). */
static int
get_bool(struct ctx *c, const json_t *obj, const char *key, const char *path)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        ecl_json_pointer_join(p, sizeof p, path, key);
        ecl_diags_add(c->d, p, "%s must be true or false", key);
        return 0;
    }
    return json_is_true(v);
}

/* An integer in [lo, hi]; required or optional (returns dflt when absent). */
static long long
get_int(struct ctx *c, const json_t *obj, const char *key, const char *path, long long lo,
        long long hi, int required, long long dflt)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v = json_object_get(obj, key);

    ecl_json_pointer_join(p, sizeof p, path, key);
    if (v == NULL) {
        if (required) {
            ecl_diags_add(c->d, p, "%s is required", key);
        }
        return dflt;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        ecl_diags_add(c->d, p, "%s must be an integer from %lld to %lld", key, lo, hi);
        return dflt;
    }
    return json_integer_value(v);
}

/* A JSON array of 1..max elements, or NULL with a diagnostic. */
static const json_t *
get_array(struct ctx *c, const json_t *obj, const char *key, const char *path, size_t max)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v = json_object_get(obj, key);

    ecl_json_pointer_join(p, sizeof p, path, key);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max) {
        ecl_diags_add(c->d, p, "%s must be an array of 1 to %zu elements", key, max);
        return NULL;
    }
    return v;
}

/* ---- hash tables ---------------------------------------------------------------------------- */

static int
htab_init(struct ctx *c, struct htab *h, size_t n)
{
    size_t cap = 8;

    while (cap < 2 * n) {
        cap *= 2;
    }
    h->hashes = ctx_calloc(c, cap, sizeof *h->hashes);
    h->slots = ctx_calloc(c, cap, sizeof *h->slots);
    h->mask = cap - 1;
    return h->hashes != NULL && h->slots != NULL;
}

static void
htab_free(struct htab *h)
{
    free(h->hashes);
    free(h->slots);
}

/* The slot where hash/key lives or would be inserted.  eq(idx, key) compares an entry. */
static size_t
htab_probe(const struct htab *h, uint64_t hash,
           int (*eq)(const void *tab, size_t idx, const void *key), const void *tab,
           const void *key)
{
    size_t i = (size_t)hash & h->mask;

    while (h->slots[i] != 0) {
        if (h->hashes[i] == hash && eq(tab, h->slots[i] - 1, key)) {
            return i;
        }
        i = (i + 1) & h->mask;
    }
    return i;
}

static int
purpose_eq(const void *tab, size_t idx, const void *key)
{
    return strcmp(((const struct purpose *)tab)[idx].id, key) == 0;
}

static int
agent_eq(const void *tab, size_t idx, const void *key)
{
    return strcmp(((const struct agent *)tab)[idx].id, key) == 0;
}

static int
triple_eq(const void *tab, size_t idx, const void *key)
{
    const struct triple *a = &((const struct triple *)tab)[idx];
    const struct triple *b = key;
    return a->agent == b->agent && a->purpose == b->purpose && strcmp(a->dataset, b->dataset) == 0;
}

static uint64_t
triple_hash(size_t agent, size_t purpose, const char *dataset)
{
    uint64_t h = ecl_policy_hash_u64(ECL_POLICY_HASH_SEED, agent);
    h = ecl_policy_hash_u64(h, purpose);
    return ecl_policy_hash_str(h, dataset);
}

long
ecl_policy_find_purpose(const struct ecl_policy *p, const char *id)
{
    uint64_t hash = ecl_policy_hash_str(ECL_POLICY_HASH_SEED, id);
    size_t i = htab_probe(&p->h_purposes, hash, purpose_eq, p->purposes, id);
    return p->h_purposes.slots[i] == 0 ? -1 : (long)p->h_purposes.slots[i] - 1;
}

long
ecl_policy_find_agent(const struct ecl_policy *p, const char *id)
{
    uint64_t hash = ecl_policy_hash_str(ECL_POLICY_HASH_SEED, id);
    size_t i = htab_probe(&p->h_agents, hash, agent_eq, p->agents, id);
    return p->h_agents.slots[i] == 0 ? -1 : (long)p->h_agents.slots[i] - 1;
}

const struct triple *
ecl_policy_find_triple(const struct ecl_policy *p, size_t agent, size_t purpose,
                       const char *dataset)
{
    struct triple key = {.agent = agent, .purpose = purpose, .dataset = dataset};
    uint64_t hash = triple_hash(agent, purpose, dataset);
    size_t i = htab_probe(&p->h_triples, hash, triple_eq, p->triples, &key);
    return p->h_triples.slots[i] == 0 ? NULL : &p->triples[p->h_triples.slots[i] - 1];
}

/* ---- purposes ------------------------------------------------------------------------------- */

static const char *const basis_names[] = {
    [ECL_BASIS_ART6_1_A] = "art6_1_a", [ECL_BASIS_ART6_1_B] = "art6_1_b",
    [ECL_BASIS_ART6_1_C] = "art6_1_c", [ECL_BASIS_ART6_1_D] = "art6_1_d",
    [ECL_BASIS_ART6_1_E] = "art6_1_e", [ECL_BASIS_ART6_1_F] = "art6_1_f",
};
_Static_assert(sizeof basis_names / sizeof basis_names[0] == ECL_BASIS_COUNT, "basis names");

static void
parse_obligations(struct ctx *c, const json_t *o, const char *path, struct purpose *pu)
{
    static const char *const keys[] = {"no_training", "no_onward_transfer", "retain_max_hours",
                                       NULL};

    if (!json_is_object(o)) {
        ecl_diags_add(c->d, path, "obligations must be an object (it may be empty)");
        return;
    }
    ecl_json_check_keys(o, keys, path, c->d);
    pu->ob.no_training = get_bool(c, o, "no_training", path);
    pu->ob.no_onward_transfer = get_bool(c, o, "no_onward_transfer", path);
    pu->ob.retain_max_hours =
        (uint32_t)get_int(c, o, "retain_max_hours", path, 1, ECL_POLICY_MAX_RETAIN_HOURS, 0, 0);
    pu->ob_json = o;
}

static void
parse_purposes(struct ctx *c, const json_t *root)
{
    static const char *const keys[] = {"id", "description", "legal_basis", "obligations", NULL};
    const json_t *arr = get_array(c, root, "purposes", "", ECL_POLICY_MAX_PURPOSES);
    struct ecl_policy *p = c->p;

    if (arr == NULL) {
        return;
    }
    p->purposes = ctx_calloc(c, json_array_size(arr), sizeof *p->purposes);
    if (p->purposes == NULL || !htab_init(c, &p->h_purposes, json_array_size(arr))) {
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        char path[ECL_DIAG_PATH_MAX];
        char sub[ECL_DIAG_PATH_MAX];
        struct purpose *pu = &p->purposes[p->npurposes];
        const json_t *v;
        int basis = -1;

        ecl_json_pointer_index(path, sizeof path, "/purposes", i);
        if (!json_is_object(o)) {
            ecl_diags_add(c->d, path, "a purpose must be an object");
            continue;
        }
        ecl_json_check_keys(o, keys, path, c->d);
        pu->id = get_id(c, o, "id", path, "the purpose id");
        pu->description = get_text(c, o, "description", path, 1);
        v = json_object_get(o, "legal_basis");
        ecl_json_pointer_join(sub, sizeof sub, path, "legal_basis");
        for (int b = 0; json_is_string(v) && b < ECL_BASIS_COUNT; b++) {
            if (strcmp(basis_names[b], json_string_value(v)) == 0) {
                basis = b;
            }
        }
        if (basis < 0) {
            ecl_diags_add(c->d, sub,
                          "legal_basis must be a GDPR Art. 6(1) basis: art6_1_a to art6_1_f");
        } else {
            pu->basis = (enum ecl_legal_basis)basis;
        }
        ecl_json_pointer_join(sub, sizeof sub, path, "obligations");
        parse_obligations(c, json_object_get(o, "obligations"), sub, pu);
        if (pu->id == NULL) {
            continue;
        }
        uint64_t hash = ecl_policy_hash_str(ECL_POLICY_HASH_SEED, pu->id);
        size_t slot = htab_probe(&p->h_purposes, hash, purpose_eq, p->purposes, pu->id);
        if (p->h_purposes.slots[slot] != 0) {
            ecl_json_pointer_join(sub, sizeof sub, path, "id");
            ecl_diags_add(c->d, sub, "another purpose has this id");
            continue;
        }
        p->h_purposes.hashes[slot] = hash;
        p->h_purposes.slots[slot] = (uint32_t)(p->npurposes + 1);
        p->npurposes++;
    }
}

/* ---- agents --------------------------------------------------------------------------------- */

static void
parse_agent_purposes(struct ctx *c, const json_t *o, const char *path, struct agent *a)
{
    char sub[ECL_DIAG_PATH_MAX];
    const json_t *arr = get_array(c, o, "purposes", path, ECL_POLICY_MAX_PURPOSES);

    if (arr == NULL) {
        return;
    }
    a->purposes = ctx_calloc(c, json_array_size(arr), sizeof *a->purposes);
    if (a->purposes == NULL) {
        return;
    }
    ecl_json_pointer_join(sub, sizeof sub, path, "purposes");
    for (size_t j = 0; j < json_array_size(arr); j++) {
        const json_t *v = json_array_get(arr, j);
        char pj[ECL_DIAG_PATH_MAX];
        long idx = -1;

        ecl_json_pointer_index(pj, sizeof pj, sub, j);
        if (json_is_string(v) && c->p->h_purposes.slots != NULL) {
            idx = ecl_policy_find_purpose(c->p, json_string_value(v));
        }
        if (idx < 0) {
            ecl_diags_add(c->d, pj, "names no purpose of the purposes register");
            continue;
        }
        for (size_t k = 0; k < a->npurposes; k++) {
            if (a->purposes[k] == (size_t)idx) {
                ecl_diags_add(c->d, pj, "this purpose is listed twice");
            }
        }
        a->purposes[a->npurposes++] = (size_t)idx;
    }
}

static void
parse_agents(struct ctx *c, const json_t *root)
{
    static const char *const keys[] = {"id",       "description",          "organisation",
                                       "purposes", "require_on_behalf_of", "require_case_id",
                                       NULL};
    const json_t *arr = get_array(c, root, "agents", "", ECL_POLICY_MAX_AGENTS);
    struct ecl_policy *p = c->p;

    if (arr == NULL) {
        return;
    }
    p->agents = ctx_calloc(c, json_array_size(arr), sizeof *p->agents);
    if (p->agents == NULL || !htab_init(c, &p->h_agents, json_array_size(arr))) {
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        char path[ECL_DIAG_PATH_MAX];
        char sub[ECL_DIAG_PATH_MAX];
        struct agent *a = &p->agents[p->nagents];

        ecl_json_pointer_index(path, sizeof path, "/agents", i);
        if (!json_is_object(o)) {
            ecl_diags_add(c->d, path, "an agent must be an object");
            continue;
        }
        ecl_json_check_keys(o, keys, path, c->d);
        a->src = o;
        a->id = get_id(c, o, "id", path, "the agent id");
        (void)get_text(c, o, "description", path, 1);
        (void)get_text(c, o, "organisation", path, 1);
        if (get_bool(c, o, "require_on_behalf_of", path)) {
            a->require |= ECL_FACT_ON_BEHALF_OF;
        }
        if (get_bool(c, o, "require_case_id", path)) {
            a->require |= ECL_FACT_CASE_ID;
        }
        parse_agent_purposes(c, o, path, a);
        if (a->id == NULL) {
            free(a->purposes);
            memset(a, 0, sizeof *a);
            continue;
        }
        uint64_t hash = ecl_policy_hash_str(ECL_POLICY_HASH_SEED, a->id);
        size_t slot = htab_probe(&p->h_agents, hash, agent_eq, p->agents, a->id);
        if (p->h_agents.slots[slot] != 0) {
            ecl_json_pointer_join(sub, sizeof sub, path, "id");
            ecl_diags_add(c->d, sub, "another agent has this id");
            free(a->purposes);
            memset(a, 0, sizeof *a);
            continue;
        }
        p->h_agents.hashes[slot] = hash;
        p->h_agents.slots[slot] = (uint32_t)(p->nagents + 1);
        p->nagents++;
    }
}

/* ---- field actions -------------------------------------------------------------------------- */

static const char *const action_names[] = {
    [ECL_ACT_ALLOW] = "allow",           [ECL_ACT_PSEUDONYMIZE] = "pseudonymize",
    [ECL_ACT_TOKENIZE] = "tokenize",     [ECL_ACT_MASK] = "mask",
    [ECL_ACT_GENERALIZE] = "generalize", [ECL_ACT_REDACT] = "redact",
};
_Static_assert(sizeof action_names / sizeof action_names[0] == ECL_ACT_COUNT, "action names");

static const char *const domain_names[] = {
    [ECL_DOMAIN_AGENT] = "agent",
    [ECL_DOMAIN_PURPOSE] = "purpose",
    [ECL_DOMAIN_AGENT_PURPOSE] = "agent_purpose",
    [ECL_DOMAIN_SHARED] = "shared",
};
_Static_assert(sizeof domain_names / sizeof domain_names[0] == ECL_DOMAIN_COUNT, "domain names");

static const char *const gen_names[] = {
    [ECL_GEN_DATE_YEAR] = "year",       [ECL_GEN_DATE_MONTH] = "month",
    [ECL_GEN_AGE_BAND] = "age_band",    [ECL_GEN_NUMBER_BUCKET] = "bucket",
    [ECL_GEN_STRING_PREFIX] = "prefix",
};
_Static_assert(sizeof gen_names / sizeof gen_names[0] == ECL_GEN_COUNT, "generalize names");

const char *
ecl_action_kind_name(enum ecl_action_kind k)
{
    return (unsigned)k < ECL_ACT_COUNT ? action_names[k] : "unknown";
}

static int
name_index(const char *const *names, size_t n, const json_t *v)
{
    if (!json_is_string(v)) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], json_string_value(v)) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void
parse_domain(struct ctx *c, const json_t *o, const char *path, struct ecl_action *a)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *sd = json_object_get(o, "shared_domain");
    int idx = name_index(domain_names, ECL_DOMAIN_COUNT, json_object_get(o, "domain"));

    ecl_json_pointer_join(p, sizeof p, path, "domain");
    if (idx < 0) {
        ecl_diags_add(c->d, p, "domain must be one of agent, purpose, agent_purpose, shared");
        return;
    }
    a->domain = (enum ecl_link_domain)idx;
    ecl_json_pointer_join(p, sizeof p, path, "shared_domain");
    if (a->domain == ECL_DOMAIN_SHARED) {
        if (!json_is_string(sd) || !id_ok(json_string_value(sd))) {
            ecl_diags_add(c->d, p, "a shared domain needs shared_domain: its name");
            return;
        }
        memcpy(a->shared_domain, json_string_value(sd), json_string_length(sd) + 1);
    } else if (sd != NULL) {
        ecl_diags_add(c->d, p, "shared_domain applies to domain \"shared\" only");
    }
}

/* Which field types an action may be applied to (docs/policy.md, "Field actions"). */
static int
action_fits(const struct ecl_action *a, enum ecl_field_type t)
{
    switch (a->kind) {
    case ECL_ACT_ALLOW:
    case ECL_ACT_REDACT:
        return 1;
    case ECL_ACT_PSEUDONYMIZE:
    case ECL_ACT_TOKENIZE:
        return t == ECL_FT_STRING || t == ECL_FT_INTEGER || t == ECL_FT_DATE || t == ECL_FT_ENUM;
    case ECL_ACT_MASK:
        return t == ECL_FT_STRING;
    case ECL_ACT_GENERALIZE:
        switch (a->gen) {
        case ECL_GEN_DATE_YEAR:
        case ECL_GEN_DATE_MONTH:
        case ECL_GEN_AGE_BAND:
            return t == ECL_FT_DATE;
        case ECL_GEN_NUMBER_BUCKET:
            return t == ECL_FT_INTEGER || t == ECL_FT_NUMBER;
        case ECL_GEN_STRING_PREFIX:
            return t == ECL_FT_STRING;
        }
        return 0;
    }
    return 0;
}

static void
parse_generalize(struct ctx *c, const json_t *o, const char *path, enum ecl_field_type t,
                 struct ecl_action *a)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *w = json_object_get(o, "width");
    const json_t *len = json_object_get(o, "length");
    int idx = name_index(gen_names, ECL_GEN_COUNT, json_object_get(o, "to"));

    ecl_json_pointer_join(p, sizeof p, path, "to");
    if (idx < 0) {
        ecl_diags_add(c->d, p, "to must be one of year, month, age_band, bucket, prefix");
        return;
    }
    a->gen = (enum ecl_generalize_kind)idx;
    switch (a->gen) {
    case ECL_GEN_DATE_YEAR:
    case ECL_GEN_DATE_MONTH:
        break;
    case ECL_GEN_AGE_BAND:
        a->band_years = (unsigned)get_int(c, o, "width", path, 1, ECL_POLICY_MAX_AGE_BAND, 1, 1);
        w = NULL;
        break;
    case ECL_GEN_NUMBER_BUCKET:
        ecl_json_pointer_join(p, sizeof p, path, "width");
        if (!json_is_number(w) || !(json_number_value(w) > 0) || json_number_value(w) > 1e15) {
            ecl_diags_add(c->d, p, "a bucket needs width, a number greater than 0");
        } else {
            a->bucket_width = json_number_value(w);
        }
        w = NULL;
        break;
    case ECL_GEN_STRING_PREFIX:
        a->prefix_len = (unsigned)get_int(c, o, "length", path, 1, ECL_POLICY_MAX_PREFIX, 1, 1);
        len = NULL;
        break;
    }
    if (w != NULL) {
        ecl_json_pointer_join(p, sizeof p, path, "width");
        ecl_diags_add(c->d, p, "width applies to age_band and bucket only");
    }
    if (len != NULL) {
        ecl_json_pointer_join(p, sizeof p, path, "length");
        ecl_diags_add(c->d, p, "length applies to prefix only");
    }
    if (!action_fits(a, t)) {
        ecl_json_pointer_join(p, sizeof p, path, "to");
        ecl_diags_add(c->d, p, "generalize to %s does not fit a field of type %s",
                      gen_names[a->gen], ecl_field_type_name(t));
    }
}

static void
parse_action(struct ctx *c, const json_t *v, const char *path, const struct ecl_field *f,
             struct ecl_action *a)
{
    static const char *const k_plain[] = {"action", NULL};
    static const char *const k_domain[] = {"action", "domain", "shared_domain", NULL};
    static const char *const k_mask[] = {"action", "keep_first", "keep_last", NULL};
    static const char *const k_gen[] = {"action", "to", "width", "length", NULL};
    char p[ECL_DIAG_PATH_MAX];
    int idx;

    memset(a, 0, sizeof *a);
    if (json_is_string(v)) {
        /* shorthand for actions without parameters: "allow", "redact" */
        idx = name_index(action_names, ECL_ACT_COUNT, v);
        if (idx != ECL_ACT_ALLOW && idx != ECL_ACT_REDACT) {
            ecl_diags_add(c->d, path,
                          "a field action is \"allow\", \"redact\" or an object with "
                          "\"action\"");
            return;
        }
        a->kind = (enum ecl_action_kind)idx;
        return;
    }
    if (!json_is_object(v)) {
        ecl_diags_add(c->d, path, "a field action must be a string or an object");
        return;
    }
    idx = name_index(action_names, ECL_ACT_COUNT, json_object_get(v, "action"));
    ecl_json_pointer_join(p, sizeof p, path, "action");
    if (idx < 0) {
        ecl_diags_add(c->d, p,
                      "action must be one of allow, pseudonymize, tokenize, mask, generalize, "
                      "redact");
        return;
    }
    a->kind = (enum ecl_action_kind)idx;
    switch (a->kind) {
    case ECL_ACT_ALLOW:
    case ECL_ACT_REDACT:
        ecl_json_check_keys(v, k_plain, path, c->d);
        break;
    case ECL_ACT_PSEUDONYMIZE:
    case ECL_ACT_TOKENIZE:
        ecl_json_check_keys(v, k_domain, path, c->d);
        parse_domain(c, v, path, a);
        break;
    case ECL_ACT_MASK:
        ecl_json_check_keys(v, k_mask, path, c->d);
        a->keep_first =
            (unsigned)get_int(c, v, "keep_first", path, 0, ECL_POLICY_MAX_MASK_KEEP, 0, 0);
        a->keep_last =
            (unsigned)get_int(c, v, "keep_last", path, 0, ECL_POLICY_MAX_MASK_KEEP, 0, 0);
        break;
    case ECL_ACT_GENERALIZE:
        ecl_json_check_keys(v, k_gen, path, c->d);
        parse_generalize(c, v, path, f->type, a);
        return;
    }
    if (!action_fits(a, f->type)) {
        ecl_diags_add(c->d, p, "%s does not fit a field of type %s", action_names[a->kind],
                      ecl_field_type_name(f->type));
    }
}

/* ---- rules ---------------------------------------------------------------------------------- */

static const struct ecl_schema *
find_schema(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nschemas; i++) {
        if (strcmp(c->schemas[i]->name, name) == 0) {
            return c->schemas[i];
        }
    }
    return NULL;
}

static void
parse_fields(struct ctx *c, const json_t *o, const char *path, const struct ecl_schema *s,
             struct ecl_policy_rule *r)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *fields = json_object_get(o, "fields");
    const char *k;
    json_t *v;
    size_t n = 0;

    ecl_json_pointer_join(p, sizeof p, path, "fields");
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        ecl_diags_add(c->d, p, "fields must be an object naming at least one field");
        return;
    }
    if (s == NULL) {
        return; /* the unknown dataset is already reported */
    }
    json_object_foreach((json_t *)fields, k, v)
    {
        char pf[ECL_DIAG_PATH_MAX];
        ecl_json_pointer_join(pf, sizeof pf, p, k);
        if (ecl_schema_field(s, k) == NULL) {
            ecl_diags_add(c->d, pf, "names no field of dataset %s", s->name);
        }
    }
    r->fields = ctx_calloc(c, json_object_size(fields), sizeof *r->fields);
    if (r->fields == NULL) {
        return;
    }
    /* schema order, so that a plan is the same whatever the key order of the document */
    for (size_t i = 0; i < s->nfields; i++) {
        char pf[ECL_DIAG_PATH_MAX];
        v = json_object_get(fields, s->fields[i].name);
        if (v == NULL) {
            continue;
        }
        ecl_json_pointer_join(pf, sizeof pf, p, s->fields[i].name);
        r->fields[n].name =
            json_object_iter_key(json_object_iter_at((json_t *)fields, s->fields[i].name));
        r->fields[n].schema_index = i;
        parse_action(c, v, pf, &s->fields[i], &r->fields[n].action);
        n++;
    }
    r->nfields = n;
}

static void
parse_condition(struct ctx *c, const json_t *o, const char *path, const struct ecl_schema *s,
                struct cond *cd)
{
    static const char *const keys[] = {"field", "eq", "in", "range", "prefix", NULL};
    static const char *const ops[] = {"eq", "in", "range", "prefix"};
    char p[ECL_DIAG_PATH_MAX];
    const struct ecl_field *f = NULL;
    struct ecl_field strict;
    const json_t *v;
    const char *why = NULL;
    int nops = 0;

    if (!json_is_object(o)) {
        ecl_diags_add(c->d, path, "a condition must be an object");
        return;
    }
    ecl_json_check_keys(o, keys, path, c->d);
    v = json_object_get(o, "field");
    ecl_json_pointer_join(p, sizeof p, path, "field");
    if (!json_is_string(v)) {
        ecl_diags_add(c->d, p, "field must name a field of the rule's dataset");
        return;
    }
    if (s != NULL) {
        f = ecl_schema_field(s, json_string_value(v));
        if (f == NULL) {
            ecl_diags_add(c->d, p, "names no field of dataset %s", s->name);
        }
    }
    cd->field = json_string_value(v);
    for (int i = 0; i < 4; i++) {
        if (json_object_get(o, ops[i]) != NULL) {
            cd->op = (enum cond_op)i;
            nops++;
        }
    }
    if (nops != 1) {
        ecl_diags_add(c->d, path, "a condition has exactly one of eq, in, range, prefix");
        return;
    }
    if (f == NULL) {
        return;
    }
    cd->type = f->type;
    strict = *f;
    strict.required = 1; /* a condition never compares with null */
    ecl_json_pointer_join(p, sizeof p, path, ops[cd->op]);
    switch (cd->op) {
    case COND_EQ:
        cd->value = json_object_get(o, "eq");
        if (ecl_schema_check_value(&strict, cd->value, &why) != ECL_OK) {
            ecl_diags_add(c->d, p, "does not fit the field: %s", why);
        }
        break;
    case COND_IN:
        cd->value = json_object_get(o, "in");
        if (!json_is_array(cd->value) || json_array_size(cd->value) == 0 ||
            json_array_size(cd->value) > ECL_POLICY_MAX_IN_VALUES) {
            ecl_diags_add(c->d, p, "in must be an array of 1 to %d values",
                          ECL_POLICY_MAX_IN_VALUES);
            break;
        }
        for (size_t i = 0; i < json_array_size(cd->value); i++) {
            char pi[ECL_DIAG_PATH_MAX];
            ecl_json_pointer_index(pi, sizeof pi, p, i);
            if (ecl_schema_check_value(&strict, json_array_get(cd->value, i), &why) != ECL_OK) {
                ecl_diags_add(c->d, pi, "does not fit the field: %s", why);
            }
        }
        break;
    case COND_RANGE: {
        static const char *const rkeys[] = {"min", "max", NULL};
        const json_t *r = json_object_get(o, "range");
        if (f->type != ECL_FT_INTEGER && f->type != ECL_FT_NUMBER && f->type != ECL_FT_DATE) {
            ecl_diags_add(c->d, p, "range applies to integer, number and date fields, not %s",
                          ecl_field_type_name(f->type));
            break;
        }
        if (!json_is_object(r) || json_object_size(r) == 0) {
            ecl_diags_add(c->d, p, "range must be an object with min, max or both");
            break;
        }
        ecl_json_check_keys(r, rkeys, p, c->d);
        cd->min = json_object_get(r, "min");
        cd->max = json_object_get(r, "max");
        for (int i = 0; i < 2; i++) {
            const json_t *b = i == 0 ? cd->min : cd->max;
            char pb[ECL_DIAG_PATH_MAX];
            ecl_json_pointer_join(pb, sizeof pb, p, i == 0 ? "min" : "max");
            if (b != NULL && ecl_schema_check_value(&strict, b, &why) != ECL_OK) {
                ecl_diags_add(c->d, pb, "does not fit the field: %s", why);
                cd->min = cd->max = NULL;
                return;
            }
        }
        if (cd->min != NULL && cd->max != NULL) {
            int bad = f->type == ECL_FT_DATE
                          ? strcmp(json_string_value(cd->min), json_string_value(cd->max)) > 0
                          : json_number_value(cd->min) > json_number_value(cd->max);
            if (bad) {
                ecl_diags_add(c->d, p, "min is greater than max");
            }
        }
        break;
    }
    case COND_PREFIX:
        v = json_object_get(o, "prefix");
        if (f->type != ECL_FT_STRING) {
            ecl_diags_add(c->d, p, "prefix applies to string fields, not %s",
                          ecl_field_type_name(f->type));
        } else if (!json_is_string(v) || json_string_length(v) == 0 ||
                   json_string_length(v) > ECL_POLICY_MAX_PREFIX) {
            ecl_diags_add(c->d, p, "prefix must be a string of 1 to %d bytes",
                          ECL_POLICY_MAX_PREFIX);
        } else {
            cd->prefix = json_string_value(v);
            cd->prefix_len = json_string_length(v);
        }
        break;
    }
}

static void
parse_conditions(struct ctx *c, const json_t *o, const char *path, const struct ecl_schema *s,
                 struct ecl_policy_rule *r)
{
    char p[ECL_DIAG_PATH_MAX];
    const json_t *arr = json_object_get(o, "conditions");

    if (arr == NULL) {
        return;
    }
    ecl_json_pointer_join(p, sizeof p, path, "conditions");
    if (!json_is_array(arr) || json_array_size(arr) > ECL_POLICY_MAX_CONDITIONS) {
        ecl_diags_add(c->d, p, "conditions must be an array of at most %d conditions",
                      ECL_POLICY_MAX_CONDITIONS);
        return;
    }
    r->conds = ctx_calloc(c, json_array_size(arr), sizeof *r->conds);
    if (r->conds == NULL) {
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char pi[ECL_DIAG_PATH_MAX];
        ecl_json_pointer_index(pi, sizeof pi, p, i);
        parse_condition(c, json_array_get(arr, i), pi, s, &r->conds[i]);
    }
    r->nconds = json_array_size(arr);
}

static void
parse_limits(struct ctx *c, const json_t *o, const char *path, struct ecl_policy_rule *r)
{
    static const char *const keys[] = {"records_per_request", "requests_per_minute",
                                       "records_per_day", NULL};
    char p[ECL_DIAG_PATH_MAX];
    const json_t *l = json_object_get(o, "limits");

    ecl_json_pointer_join(p, sizeof p, path, "limits");
    if (!json_is_object(l)) {
        ecl_diags_add(c->d, p,
                      "limits is required: records_per_request, requests_per_minute, "
                      "records_per_day");
        return;
    }
    ecl_json_check_keys(l, keys, p, c->d);
    r->limits.records_per_request =
        (uint32_t)get_int(c, l, "records_per_request", p, 1, ECL_HTTP_RECORDS_PER_REQUEST, 1, 0);
    r->limits.requests_per_minute =
        (uint32_t)get_int(c, l, "requests_per_minute", p, 1, ECL_POLICY_MAX_RATE_PER_MINUTE, 1, 0);
    r->limits.records_per_day =
        (uint32_t)get_int(c, l, "records_per_day", p, 1, ECL_POLICY_MAX_RECORDS_PER_DAY, 1, 0);
}

static void
parse_validity(struct ctx *c, const json_t *o, const char *path, struct ecl_policy_rule *r)
{
    static const char *const keys[] = {"not_before", "not_after", NULL};
    char p[ECL_DIAG_PATH_MAX];
    const json_t *w = json_object_get(o, "valid");
    int ok = 1;

    r->not_before = INT64_MIN;
    r->not_after = INT64_MAX;
    if (w == NULL) {
        return;
    }
    ecl_json_pointer_join(p, sizeof p, path, "valid");
    if (!json_is_object(w) || json_object_size(w) == 0) {
        ecl_diags_add(c->d, p, "valid must be an object with not_before, not_after or both");
        return;
    }
    ecl_json_check_keys(w, keys, p, c->d);
    for (int i = 0; i < 2; i++) {
        const char *k = keys[i];
        const json_t *t = json_object_get(w, k);
        char pk[ECL_DIAG_PATH_MAX];
        ecl_json_pointer_join(pk, sizeof pk, p, k);
        if (t == NULL) {
            continue;
        }
        if (!json_is_string(t) || !ecl_rfc3339_parse(json_string_value(t), json_string_length(t),
                                                     i == 0 ? &r->not_before : &r->not_after)) {
            ecl_diags_add(c->d, pk, "must be an RFC 3339 UTC time: YYYY-MM-DDTHH:MM:SSZ");
            ok = 0;
        }
    }
    if (ok && r->not_before > r->not_after) {
        ecl_diags_add(c->d, p, "not_before is later than not_after");
    }
}

/* Adds rule ri to the triple (agent, purpose, dataset), creating it when needed. */
static void
add_to_triple(struct ctx *c, size_t agent, size_t ri)
{
    struct ecl_policy *p = c->p;
    struct ecl_policy_rule *r = &p->rules[ri];
    struct triple key = {.agent = agent, .purpose = r->purpose, .dataset = r->dataset};
    uint64_t hash = triple_hash(agent, r->purpose, r->dataset);
    size_t slot = htab_probe(&p->h_triples, hash, triple_eq, p->triples, &key);
    struct triple *t;

    if (p->h_triples.slots[slot] == 0) {
        t = &p->triples[p->ntriples];
        *t = key;
        t->hash = hash;
        p->h_triples.hashes[slot] = hash;
        p->h_triples.slots[slot] = (uint32_t)(p->ntriples + 1);
        p->ntriples++;
    } else {
        t = &p->triples[p->h_triples.slots[slot] - 1];
    }
    /* at most one entry per rule of the document: the array grows by one, never realloc'd
     * over personal data (a policy holds none) */
    size_t *grown = realloc(t->rules, (t->nrules + 1) * sizeof *t->rules);
    if (grown == NULL) {
        c->nomem = 1;
        return;
    }
    t->rules = grown;
    t->rules[t->nrules++] = ri;
}

static void
parse_rule(struct ctx *c, const json_t *o, const char *path, struct ecl_policy_rule *r,
           size_t *agents, size_t *nagents)
{
    static const char *const keys[] = {"id",         "description", "agents", "purpose", "dataset",
                                       "conditions", "fields",      "limits", "valid",   NULL};
    char p[ECL_DIAG_PATH_MAX];
    const struct ecl_schema *s = NULL;
    const json_t *arr;
    long pidx = -1;

    ecl_json_check_keys(o, keys, path, c->d);
    r->src = o;
    r->id = get_id(c, o, "id", path, "the rule id");
    (void)get_text(c, o, "description", path, 0);
    r->purpose_id = get_id(c, o, "purpose", path, "the purpose");
    if (r->purpose_id != NULL && c->p->h_purposes.slots != NULL) {
        pidx = ecl_policy_find_purpose(c->p, r->purpose_id);
    }
    if (r->purpose_id != NULL && pidx < 0) {
        ecl_json_pointer_join(p, sizeof p, path, "purpose");
        ecl_diags_add(c->d, p, "names no purpose of the purposes register");
    }
    r->purpose = pidx < 0 ? 0 : (size_t)pidx;
    r->dataset = get_id(c, o, "dataset", path, "the dataset");
    if (r->dataset != NULL) {
        s = find_schema(c, r->dataset);
        if (s == NULL) {
            ecl_json_pointer_join(p, sizeof p, path, "dataset");
            ecl_diags_add(c->d, p, "names no known dataset");
        }
    }
    arr = get_array(c, o, "agents", path, ECL_POLICY_MAX_AGENTS_PER_RULE);
    for (size_t j = 0; arr != NULL && j < json_array_size(arr); j++) {
        const json_t *v = json_array_get(arr, j);
        char pa[ECL_DIAG_PATH_MAX];
        char sub[ECL_DIAG_PATH_MAX];
        long aidx = -1;
        int has = 0;

        ecl_json_pointer_join(sub, sizeof sub, path, "agents");
        ecl_json_pointer_index(pa, sizeof pa, sub, j);
        if (json_is_string(v) && c->p->h_agents.slots != NULL) {
            aidx = ecl_policy_find_agent(c->p, json_string_value(v));
        }
        if (aidx < 0) {
            ecl_diags_add(c->d, pa, "names no agent of the agents list");
            continue;
        }
        for (size_t k = 0; k < *nagents; k++) {
            if (agents[k] == (size_t)aidx) {
                ecl_diags_add(c->d, pa, "this agent is listed twice");
                has = -1;
            }
        }
        if (has < 0) {
            continue;
        }
        for (size_t k = 0; pidx >= 0 && k < c->p->agents[aidx].npurposes; k++) {
            has |= c->p->agents[aidx].purposes[k] == (size_t)pidx;
        }
        if (pidx >= 0 && !has) {
            ecl_diags_add(c->d, pa, "this agent may not invoke the rule's purpose");
        }
        agents[(*nagents)++] = (size_t)aidx;
    }
    parse_fields(c, o, path, s, r);
    parse_conditions(c, o, path, s, r);
    parse_limits(c, o, path, r);
    parse_validity(c, o, path, r);
}

static void
parse_rules(struct ctx *c, const json_t *root)
{
    const json_t *arr = get_array(c, root, "rules", "", ECL_POLICY_MAX_RULES);
    struct ecl_policy *p = c->p;
    size_t *agents = NULL;
    size_t links = 0;

    if (arr == NULL) {
        return;
    }
    p->rules = ctx_calloc(c, json_array_size(arr), sizeof *p->rules);
    agents = ctx_calloc(c, ECL_POLICY_MAX_AGENTS_PER_RULE, sizeof *agents);
    if (p->rules == NULL || agents == NULL) {
        free(agents);
        return;
    }
    /* (agent, rule) links, for sizing the triple table */
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *a = json_object_get(json_array_get(arr, i), "agents");
        links += json_is_array(a) ? json_array_size(a) : 0;
    }
    if (links > (size_t)ECL_POLICY_MAX_RULES * 16) {
        ecl_diags_add(c->d, "/rules", "the rules name more than %d agent grants in all",
                      ECL_POLICY_MAX_RULES * 16);
        free(agents);
        return;
    }
    p->triples = ctx_calloc(c, links + 1, sizeof *p->triples);
    if (p->triples == NULL || !htab_init(c, &p->h_triples, links + 1)) {
        free(agents);
        return;
    }
    for (size_t i = 0; i < json_array_size(arr) && !c->nomem; i++) {
        const json_t *o = json_array_get(arr, i);
        char path[ECL_DIAG_PATH_MAX];
        size_t nagents = 0;
        struct ecl_policy_rule *r = &p->rules[i];

        ecl_json_pointer_index(path, sizeof path, "/rules", i);
        p->nrules = i + 1;
        if (!json_is_object(o)) {
            ecl_diags_add(c->d, path, "a rule must be an object");
            continue;
        }
        parse_rule(c, o, path, r, agents, &nagents);
        for (size_t j = 0; j < i && r->id != NULL; j++) {
            if (p->rules[j].id != NULL && strcmp(p->rules[j].id, r->id) == 0) {
                char pid[ECL_DIAG_PATH_MAX];
                ecl_json_pointer_join(pid, sizeof pid, path, "id");
                ecl_diags_add(c->d, pid, "another rule has this id");
                break;
            }
        }
        if (r->dataset == NULL || r->purpose_id == NULL) {
            continue;
        }
        for (size_t j = 0; j < nagents; j++) {
            add_to_triple(c, agents[j], i);
        }
    }
    free(agents);
}

/* ---- conflicts ------------------------------------------------------------------------------ */

/* Two rules of the same (agent, purpose, dataset) whose validity windows overlap would make a
 * decision depend on rule order: refused (docs/policy.md, "Conflicts").  Sorting each triple's
 * rules by not_before also lets evaluation stop early. */
static void
check_conflicts(struct ctx *c)
{
    struct ecl_policy *p = c->p;

    for (size_t t = 0; t < p->ntriples; t++) {
        struct triple *tr = &p->triples[t];
        /* insertion sort: a triple holds few rules */
        for (size_t i = 1; i < tr->nrules; i++) {
            size_t v = tr->rules[i];
            size_t j = i;
            while (j > 0 && p->rules[tr->rules[j - 1]].not_before > p->rules[v].not_before) {
                tr->rules[j] = tr->rules[j - 1];
                j--;
            }
            tr->rules[j] = v;
        }
        for (size_t i = 0; i + 1 < tr->nrules; i++) {
            const struct ecl_policy_rule *a = &p->rules[tr->rules[i]];
            const struct ecl_policy_rule *b = &p->rules[tr->rules[i + 1]];
            char path[ECL_DIAG_PATH_MAX];
            if (b->not_before <= a->not_after) {
                size_t bi = (size_t)(b - p->rules);
                ecl_json_pointer_index(path, sizeof path, "/rules", bi);
                ecl_diags_add(c->d, path,
                              "conflicts with rule %s: both apply to agent %s, purpose %s and "
                              "dataset %s at the same time",
                              a->id != NULL ? a->id : "?", p->agents[tr->agent].id, a->purpose_id,
                              a->dataset);
            }
        }
    }
}

/* ---- the whole document --------------------------------------------------------------------- */

static void
parse_four_eyes(struct ctx *c, const json_t *root)
{
    static const char *const keys[] = {"policy_changes", "reidentification", NULL};
    const json_t *v = json_object_get(root, "four_eyes");

    if (v == NULL) {
        return;
    }
    if (!json_is_object(v)) {
        ecl_diags_add(c->d, "/four_eyes",
                      "four_eyes must be an object: policy_changes, reidentification");
        return;
    }
    ecl_json_check_keys(v, keys, "/four_eyes", c->d);
    if (get_bool(c, v, "policy_changes", "/four_eyes")) {
        c->p->four_eyes |= ECL_FOUR_EYES_POLICY;
    }
    if (get_bool(c, v, "reidentification", "/four_eyes")) {
        c->p->four_eyes |= ECL_FOUR_EYES_REIDENTIFY;
    }
}

void
ecl_policy_free(struct ecl_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nagents; i++) {
        free(p->agents[i].purposes);
    }
    for (size_t i = 0; i < p->nrules; i++) {
        free(p->rules[i].fields);
        free(p->rules[i].conds);
    }
    for (size_t i = 0; i < p->ntriples; i++) {
        free(p->triples[i].rules);
    }
    htab_free(&p->h_purposes);
    htab_free(&p->h_agents);
    htab_free(&p->h_triples);
    free(p->purposes);
    free(p->agents);
    free(p->rules);
    free(p->triples);
    free(p->canonical);
    json_decref(p->doc);
    free(p);
}

enum ecl_status
ecl_policy_parse(const char *json, size_t len, const struct ecl_schema *const *schemas,
                 size_t nschemas, struct ecl_diags *diags, struct ecl_policy **out)
{
    static const char *const keys[] = {"format", "description", "four_eyes", "purposes",
                                       "agents", "rules",       NULL};
    struct ctx c = {.schemas = schemas, .nschemas = nschemas, .d = diags};
    size_t before = ecl_diags_count(diags);
    const char *why = NULL;
    int line = 0;
    const json_t *fmt;

    if (len > ECL_POLICY_MAX_BYTES) {
        ecl_diags_add(diags, "", "the policy is larger than %d bytes", ECL_POLICY_MAX_BYTES);
        return ECL_ERR_LIMIT;
    }
    c.p = calloc(1, sizeof *c.p);
    if (c.p == NULL) {
        return ECL_ERR_NOMEM;
    }
    c.p->doc = ecl_json_load(json, len, ECL_JSON_MAX_DEPTH, &why, &line);
    if (c.p->doc == NULL) {
        ecl_diags_add(diags, "", "line %d: %s", line, why);
        ecl_policy_free(c.p);
        return ECL_ERR_INVALID;
    }
    if (!json_is_object(c.p->doc)) {
        ecl_diags_add(diags, "", "a policy must be a JSON object");
        ecl_policy_free(c.p);
        return ECL_ERR_INVALID;
    }
    ecl_json_check_keys(c.p->doc, keys, "", diags);
    fmt = json_object_get(c.p->doc, "format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != 1) {
        ecl_diags_add(diags, "/format", "format must be 1 (this version of the policy language)");
    }
    (void)get_text(&c, c.p->doc, "description", "", 0);
    parse_four_eyes(&c, c.p->doc);
    parse_purposes(&c, c.p->doc);
    if (!c.nomem) {
        parse_agents(&c, c.p->doc);
    }
    if (!c.nomem) {
        parse_rules(&c, c.p->doc);
    }
    if (!c.nomem) {
        check_conflicts(&c);
    }
    if (!c.nomem && ecl_diags_count(diags) == before) {
        c.p->canonical = json_dumps(c.p->doc, JSON_SORT_KEYS | JSON_COMPACT);
        c.nomem = c.p->canonical == NULL;
    }
    if (c.nomem) {
        ecl_policy_free(c.p);
        return ECL_ERR_NOMEM;
    }
    if (ecl_diags_count(diags) != before) {
        ecl_policy_free(c.p);
        return ECL_ERR_INVALID;
    }
    c.p->canonical_len = strlen(c.p->canonical);
    *out = c.p;
    return ECL_OK;
}

const char *
ecl_policy_canonical(const struct ecl_policy *p, size_t *len)
{
    *len = p->canonical_len;
    return p->canonical;
}

const json_t *
ecl_policy_json(const struct ecl_policy *p)
{
    return p->doc;
}

unsigned
ecl_policy_four_eyes(const struct ecl_policy *p)
{
    return p->four_eyes;
}

size_t
ecl_policy_rule_count(const struct ecl_policy *p)
{
    return p->nrules;
}

/* ---- actions as JSON ------------------------------------------------------------------------ */

json_t *
ecl_action_to_json(const struct ecl_action *a)
{
    json_t *o = json_object();
    int bad = o == NULL;

    if (bad) {
        return NULL;
    }
    bad |= json_object_set_new(o, "action", json_string(ecl_action_kind_name(a->kind)));
    switch (a->kind) {
    case ECL_ACT_ALLOW:
    case ECL_ACT_REDACT:
        break;
    case ECL_ACT_PSEUDONYMIZE:
    case ECL_ACT_TOKENIZE:
        bad |= json_object_set_new(o, "domain", json_string(domain_names[a->domain]));
        if (a->domain == ECL_DOMAIN_SHARED) {
            bad |= json_object_set_new(o, "shared_domain", json_string(a->shared_domain));
        }
        break;
    case ECL_ACT_MASK:
        bad |= json_object_set_new(o, "keep_first", json_integer(a->keep_first));
        bad |= json_object_set_new(o, "keep_last", json_integer(a->keep_last));
        break;
    case ECL_ACT_GENERALIZE:
        bad |= json_object_set_new(o, "to", json_string(gen_names[a->gen]));
        if (a->gen == ECL_GEN_AGE_BAND) {
            bad |= json_object_set_new(o, "width", json_integer(a->band_years));
        } else if (a->gen == ECL_GEN_NUMBER_BUCKET) {
            /* an integral width is written as the DPO wrote it: 100, not 100.0 */
            double w = a->bucket_width;
            bad |= json_object_set_new(o, "width",
                                       w == (double)(json_int_t)w ? json_integer((json_int_t)w)
                                                                  : json_real(w));
        } else if (a->gen == ECL_GEN_STRING_PREFIX) {
            bad |= json_object_set_new(o, "length", json_integer(a->prefix_len));
        }
        break;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- RFC 3339 ------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return 0;
    }
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

int
ecl_rfc3339_parse(const char *s, size_t len, int64_t *out)
{
    int y;
    int m;
    int d;
    int hh;
    int mm;
    int ss;

    if (len != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
        return 0;
    }
    if (!ecl_date_parse(s, 10, &y, &m, &d) || !two_digits(s + 11, &hh) ||
        !two_digits(s + 14, &mm) || !two_digits(s + 17, &ss) || hh > 23 || mm > 59 || ss > 59) {
        return 0;
    }
    *out = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 1;
}

int
ecl_rfc3339_format(int64_t t, char out[21])
{
    /* civil_from_days (H. Hinnant) */
    int64_t days;
    int64_t secs;

    if (t < -62135596800LL || t > 253402300799LL) {
        return 0;
    }
    days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    secs = t - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int64_t v[6] = {y, m, d, secs / 3600, secs / 60 % 60, secs % 60};
    int w[6] = {4, 2, 2, 2, 2, 2};
    char sep[6] = {'-', '-', 'T', ':', ':', 'Z'};
    size_t n = 0;
    for (int i = 0; i < 6; i++) {
        int64_t x = v[i];
        for (int k = w[i] - 1; k >= 0; k--) {
            out[n + (size_t)k] = (char)('0' + x % 10);
            x /= 10;
        }
        n += (size_t)w[i];
        out[n++] = sep[i];
    }
    out[n] = 0;
    return 1;
}
