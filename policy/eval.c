/* Evaluation: request decisions, row checks and "explain".  Pure and deterministic: the same
 * policy and facts always give the same decision; no allocation on the decision path. */
#include <string.h>

#include "policy_internal.h"

static const char *const reason_names[] = {
    [ECL_REASON_OK] = "ok",
    [ECL_REASON_UNKNOWN_AGENT] = "unknown_agent",
    [ECL_REASON_UNKNOWN_PURPOSE] = "unknown_purpose",
    [ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT] = "purpose_not_allowed_for_agent",
    [ECL_REASON_ON_BEHALF_OF_REQUIRED] = "on_behalf_of_required",
    [ECL_REASON_CASE_ID_REQUIRED] = "case_id_required",
    [ECL_REASON_NO_RULE] = "no_rule",
    [ECL_REASON_OUTSIDE_VALIDITY_WINDOW] = "outside_validity_window",
    [ECL_REASON_OBJECTION] = "objection",
    [ECL_REASON_ROW_CONDITION] = "row_condition",
};
_Static_assert(sizeof reason_names / sizeof reason_names[0] == ECL_REASON_COUNT, "reasons");

static const char *const reason_texts[] = {
    [ECL_REASON_OK] = "The request is allowed by the policy.",
    [ECL_REASON_UNKNOWN_AGENT] = "This agent is not registered in the policy.",
    [ECL_REASON_UNKNOWN_PURPOSE] = "This purpose is not in the policy's purposes register.",
    [ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT] = "This agent may not invoke this purpose.",
    [ECL_REASON_ON_BEHALF_OF_REQUIRED] =
        "This agent must name the official it acts for (On-Behalf-Of).",
    [ECL_REASON_CASE_ID_REQUIRED] = "This agent must give a case reference.",
    [ECL_REASON_NO_RULE] = "No rule grants this agent access to this dataset for this purpose.",
    [ECL_REASON_OUTSIDE_VALIDITY_WINDOW] = "The rule for this request is not valid at this time.",
    [ECL_REASON_OBJECTION] = "The person has objected to processing for this purpose.",
    [ECL_REASON_ROW_CONDITION] = "The record is outside the rule's scope.",
};
_Static_assert(sizeof reason_texts / sizeof reason_texts[0] == ECL_REASON_COUNT, "texts");

const char *
ecl_policy_reason_name(enum ecl_policy_reason r)
{
    return (unsigned)r < ECL_REASON_COUNT ? reason_names[r] : "internal";
}

const char *
ecl_policy_reason_text(enum ecl_policy_reason r)
{
    return (unsigned)r < ECL_REASON_COUNT ? reason_texts[r] : "Internal error.";
}

static int
agent_has_purpose(const struct agent *a, size_t purpose)
{
    for (size_t i = 0; i < a->npurposes; i++) {
        if (a->purposes[i] == purpose) {
            return 1;
        }
    }
    return 0;
}

void
ecl_policy_eval(const struct ecl_policy *p, const struct ecl_policy_facts *f,
                struct ecl_decision *out)
{
    const struct triple *t;
    const struct ecl_policy_rule *r = NULL;
    const struct agent *a;
    const struct purpose *pu;
    long ai;
    long pi;

    memset(out, 0, sizeof *out);
    out->effect = ECL_POLICY_DENY;
    out->reason = ECL_REASON_UNKNOWN_AGENT;
    if (f->agent == NULL || f->purpose == NULL || f->dataset == NULL) {
        return;
    }
    ai = ecl_policy_find_agent(p, f->agent);
    if (ai < 0) {
        return;
    }
    a = &p->agents[ai];
    pi = ecl_policy_find_purpose(p, f->purpose);
    if (pi < 0) {
        out->reason = ECL_REASON_UNKNOWN_PURPOSE;
        return;
    }
    if (!agent_has_purpose(a, (size_t)pi)) {
        out->reason = ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT;
        return;
    }
    if ((a->require & ECL_FACT_ON_BEHALF_OF) != 0 && (f->flags & ECL_FACT_ON_BEHALF_OF) == 0) {
        out->reason = ECL_REASON_ON_BEHALF_OF_REQUIRED;
        return;
    }
    if ((a->require & ECL_FACT_CASE_ID) != 0 && (f->flags & ECL_FACT_CASE_ID) == 0) {
        out->reason = ECL_REASON_CASE_ID_REQUIRED;
        return;
    }
    t = ecl_policy_find_triple(p, (size_t)ai, (size_t)pi, f->dataset);
    if (t == NULL) {
        out->reason = ECL_REASON_NO_RULE;
        return;
    }
    /* sorted by not_before, windows disjoint (validated): the first one that has started and
     * not ended is the only one that applies */
    for (size_t i = 0; i < t->nrules; i++) {
        const struct ecl_policy_rule *c = &p->rules[t->rules[i]];
        if (c->not_before > f->now) {
            break;
        }
        if (f->now <= c->not_after) {
            r = c;
            break;
        }
    }
    if (r == NULL) {
        out->reason = ECL_REASON_OUTSIDE_VALIDITY_WINDOW;
        out->rule_id = p->rules[t->rules[0]].id;
        return;
    }
    pu = &p->purposes[pi];
    out->effect = ECL_POLICY_ALLOW;
    out->reason = ECL_REASON_OK;
    out->rule_id = r->id;
    out->fields = r->fields;
    out->nfields = r->nfields;
    out->limits = r->limits;
    out->obligations = &pu->ob;
    out->obligations_json = pu->ob_json;
    out->rule = r;
}

/* ---- rows ----------------------------------------------------------------------------------- */

/* -1, 0, 1 like strcmp; integer, number and date values of the same field. */
static int
value_cmp(enum ecl_field_type t, const json_t *a, const json_t *b)
{
    if (t == ECL_FT_DATE) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return (c > 0) - (c < 0);
    }
    if (t == ECL_FT_INTEGER && json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a);
        json_int_t y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a);
    double y = json_number_value(b);
    return (x > y) - (x < y);
}

static int
value_eq(enum ecl_field_type t, const json_t *rec, const json_t *want)
{
    if (t == ECL_FT_NUMBER) {
        return json_is_number(rec) && json_number_value(rec) == json_number_value(want);
    }
    return json_equal((json_t *)rec, (json_t *)want);
}

static int
cond_holds(const struct cond *c, const json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    switch (c->op) {
    case COND_EQ:
        return value_eq(c->type, v, c->value);
    case COND_IN:
        for (size_t i = 0; i < json_array_size(c->value); i++) {
            if (value_eq(c->type, v, json_array_get(c->value, i))) {
                return 1;
            }
        }
        return 0;
    case COND_RANGE:
        if (c->type == ECL_FT_DATE ? !json_is_string(v) : !json_is_number(v)) {
            return 0;
        }
        if (c->min != NULL && value_cmp(c->type, v, c->min) < 0) {
            return 0;
        }
        if (c->max != NULL && value_cmp(c->type, v, c->max) > 0) {
            return 0;
        }
        return 1;
    case COND_PREFIX:
        return json_is_string(v) && json_string_length(v) >= c->prefix_len &&
               memcmp(json_string_value(v), c->prefix, c->prefix_len) == 0;
    }
    return 0;
}

enum ecl_policy_reason
ecl_policy_row_check(const struct ecl_decision *d, const json_t *record,
                     const char *const *objected, size_t nobjected)
{
    const struct ecl_policy_rule *r = d->rule;

    if (d->effect != ECL_POLICY_ALLOW || r == NULL) {
        return ECL_REASON_NO_RULE;
    }
    /* Art. 21 objection: always applies, whatever the rule says */
    for (size_t i = 0; i < nobjected; i++) {
        if (objected[i] != NULL && strcmp(objected[i], r->purpose_id) == 0) {
            return ECL_REASON_OBJECTION;
        }
    }
    if (!json_is_object(record)) {
        return ECL_REASON_ROW_CONDITION;
    }
    for (size_t i = 0; i < r->nconds; i++) {
        if (!cond_holds(&r->conds[i], json_object_get(record, r->conds[i].field))) {
            return ECL_REASON_ROW_CONDITION;
        }
    }
    return ECL_REASON_OK;
}

/* ---- explain -------------------------------------------------------------------------------- */

static const char *const basis_names[] = {
    [ECL_BASIS_ART6_1_A] = "art6_1_a", [ECL_BASIS_ART6_1_B] = "art6_1_b",
    [ECL_BASIS_ART6_1_C] = "art6_1_c", [ECL_BASIS_ART6_1_D] = "art6_1_d",
    [ECL_BASIS_ART6_1_E] = "art6_1_e", [ECL_BASIS_ART6_1_F] = "art6_1_f",
};
_Static_assert(sizeof basis_names / sizeof basis_names[0] == ECL_BASIS_COUNT, "basis names");

static json_t *
rule_json(const struct ecl_policy_rule *r)
{
    json_t *o = json_object();
    json_t *fields = json_object();
    json_t *limits = json_object();
    int bad = o == NULL || fields == NULL || limits == NULL;

    for (size_t i = 0; !bad && i < r->nfields; i++) {
        bad |= json_object_set_new(fields, r->fields[i].name,
                                   ecl_action_to_json(&r->fields[i].action));
    }
    if (!bad) {
        bad |= json_object_set_new(o, "rule", json_string(r->id));
        bad |= json_object_set_new(o, "dataset", json_string(r->dataset));
        bad |= json_object_set(o, "fields", fields);
        bad |= json_object_set_new(limits, "records_per_request",
                                   json_integer(r->limits.records_per_request));
        bad |= json_object_set_new(limits, "requests_per_minute",
                                   json_integer(r->limits.requests_per_minute));
        bad |=
            json_object_set_new(limits, "records_per_day", json_integer(r->limits.records_per_day));
        bad |= json_object_set(o, "limits", limits);
    }
    if (!bad && json_object_get(r->src, "conditions") != NULL) {
        bad |= json_object_set_new(o, "conditions",
                                   json_deep_copy(json_object_get(r->src, "conditions")));
    }
    if (!bad && json_object_get(r->src, "valid") != NULL) {
        bad |= json_object_set_new(o, "valid", json_deep_copy(json_object_get(r->src, "valid")));
    }
    json_decref(fields);
    json_decref(limits);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
purpose_json(const struct ecl_policy *p, const struct agent *a, size_t ai, size_t pi)
{
    const struct purpose *pu = &p->purposes[pi];
    json_t *o = json_object();
    json_t *rules = json_array();
    int bad = o == NULL || rules == NULL;

    if (!bad) {
        bad |= json_object_set_new(o, "purpose", json_string(pu->id));
        bad |= json_object_set_new(o, "description", json_string(pu->description));
        bad |= json_object_set_new(o, "legal_basis", json_string(basis_names[pu->basis]));
        bad |= json_object_set_new(o, "obligations", json_deep_copy(pu->ob_json));
        bad |= json_object_set_new(o, "require_on_behalf_of",
                                   json_boolean((a->require & ECL_FACT_ON_BEHALF_OF) != 0));
        bad |= json_object_set_new(o, "require_case_id",
                                   json_boolean((a->require & ECL_FACT_CASE_ID) != 0));
    }
    /* document order of the triples, then their rules by not_before: deterministic */
    for (size_t t = 0; !bad && t < p->ntriples; t++) {
        const struct triple *tr = &p->triples[t];
        if (tr->agent != ai || tr->purpose != pi) {
            continue;
        }
        for (size_t i = 0; !bad && i < tr->nrules; i++) {
            bad |= json_array_append_new(rules, rule_json(&p->rules[tr->rules[i]]));
        }
    }
    if (!bad) {
        bad |= json_object_set(o, "grants", rules);
    }
    json_decref(rules);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum ecl_status
ecl_policy_explain(const struct ecl_policy *p, const char *agent, const char *purpose, json_t **out)
{
    long ai = ecl_policy_find_agent(p, agent);
    long only = -1;
    const struct agent *a;
    json_t *o;
    json_t *list;
    int bad;

    if (ai < 0) {
        return ECL_ERR_NOT_FOUND;
    }
    a = &p->agents[ai];
    if (purpose != NULL) {
        only = ecl_policy_find_purpose(p, purpose);
        if (only < 0 || !agent_has_purpose(a, (size_t)only)) {
            return ECL_ERR_NOT_FOUND;
        }
    }
    o = json_object();
    list = json_array();
    bad = o == NULL || list == NULL;
    if (!bad) {
        bad |= json_object_set_new(o, "agent", json_string(a->id));
        bad |= json_object_set_new(o, "description",
                                   json_deep_copy(json_object_get(a->src, "description")));
        bad |= json_object_set_new(o, "organisation",
                                   json_deep_copy(json_object_get(a->src, "organisation")));
    }
    for (size_t i = 0; !bad && i < a->npurposes; i++) {
        if (only >= 0 && a->purposes[i] != (size_t)only) {
            continue;
        }
        bad |= json_array_append_new(list, purpose_json(p, a, (size_t)ai, a->purposes[i]));
    }
    if (!bad) {
        bad |= json_object_set(o, "purposes", list);
    }
    json_decref(list);
    if (bad) {
        json_decref(o);
        return ECL_ERR_NOMEM;
    }
    *out = o;
    return ECL_OK;
}
