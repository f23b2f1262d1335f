/* The policy engine: table-driven vectors (tests/vectors/policy/, one JSON file each), a property
 * test over random requests, canonical form, explain, time parsing and the refusal paths. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "assets.h"
#include "ecl/policy.h"
#include "testutil.h"

struct schemas {
    struct ecl_schema *s[8];
    size_t n;
};

static void
schemas_demo(struct schemas *out)
{
    struct ecl_diags d;

    ecl_diags_init(&d);
    out->n = 0;
    assert_int_equal(ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d,
                                      &out->s[out->n++]),
                     ECL_OK);
    assert_int_equal(ecl_schema_parse(ecl_asset_benefits_schema, ecl_asset_benefits_schema_len, &d,
                                      &out->s[out->n++]),
                     ECL_OK);
}

static void
schemas_from(const json_t *arr, struct schemas *out)
{
    struct ecl_diags d;
    size_t i;
    json_t *v;

    if (arr == NULL) {
        schemas_demo(out);
        return;
    }
    out->n = 0;
    ecl_diags_init(&d);
    json_array_foreach(arr, i, v)
    {
        char *text = json_dumps(v, JSON_COMPACT);
        assert_non_null(text);
        assert_true(out->n < 8);
        assert_int_equal(ecl_schema_parse(text, strlen(text), &d, &out->s[out->n++]), ECL_OK);
        free(text);
    }
}

static void
schemas_free(struct schemas *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ecl_schema_free(s->s[i]);
    }
}

static void
print_diags(const struct ecl_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        print_message("  %s: %s\n", d->items[i].path, d->items[i].reason);
    }
}

static struct ecl_policy *
parse_ok(const char *text, size_t len, const struct schemas *s)
{
    struct ecl_policy *p = NULL;
    struct ecl_diags d;
    enum ecl_status st;

    ecl_diags_init(&d);
    st = ecl_policy_parse(text, len, (const struct ecl_schema *const *)s->s, s->n, &d, &p);
    if (st != ECL_OK) {
        print_diags(&d);
    }
    assert_int_equal(st, ECL_OK);
    assert_int_equal(ecl_diags_count(&d), 0);
    assert_non_null(p);
    return p;
}

static struct ecl_policy *
parse_demo(const struct schemas *s)
{
    return parse_ok(ecl_asset_policy, ecl_asset_policy_len, s);
}

/* ---- vectors -------------------------------------------------------------------------------- */

static size_t n_cases;
static size_t n_rows;
static size_t n_invalid;

static int64_t
parse_time(const json_t *v)
{
    int64_t t = 0;
    assert_true(json_is_string(v));
    assert_true(ecl_rfc3339_parse(json_string_value(v), json_string_length(v), &t));
    return t;
}

static void
check_decision(const char *name, const struct ecl_decision *dec, const json_t *exp)
{
    const json_t *v;

    print_message("case: %s\n", name);
    assert_string_equal(dec->effect == ECL_POLICY_ALLOW ? "allow" : "deny",
                        json_string_value(json_object_get(exp, "effect")));
    assert_string_equal(ecl_policy_reason_name(dec->reason),
                        json_string_value(json_object_get(exp, "reason")));
    v = json_object_get(exp, "rule");
    if (v != NULL) {
        assert_non_null(dec->rule_id);
        assert_string_equal(dec->rule_id, json_string_value(v));
    } else {
        assert_null(dec->rule_id);
    }
    if (dec->effect == ECL_POLICY_DENY) {
        assert_int_equal(dec->nfields, 0);
        assert_null(dec->fields);
        assert_null(dec->obligations);
        assert_null(dec->obligations_json);
        assert_null(dec->rule);
        return;
    }
    v = json_object_get(exp, "fields");
    if (v != NULL) {
        assert_int_equal(dec->nfields, json_array_size(v));
        for (size_t i = 0; i < dec->nfields; i++) {
            const json_t *pair = json_array_get(v, i);
            json_t *got = ecl_action_to_json(&dec->fields[i].action);
            assert_string_equal(dec->fields[i].name, json_string_value(json_array_get(pair, 0)));
            if (!json_equal(got, json_array_get(pair, 1))) {
                char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
                print_message("field %s: got %s\n", dec->fields[i].name, g);
                free(g);
                fail();
            }
            json_decref(got);
        }
    }
    v = json_object_get(exp, "nfields");
    if (v != NULL) {
        assert_int_equal(dec->nfields, (size_t)json_integer_value(v));
    }
    v = json_object_get(exp, "limits");
    if (v != NULL) {
        assert_int_equal(dec->limits.records_per_request,
                         json_integer_value(json_object_get(v, "records_per_request")));
        assert_int_equal(dec->limits.requests_per_minute,
                         json_integer_value(json_object_get(v, "requests_per_minute")));
        assert_int_equal(dec->limits.records_per_day,
                         json_integer_value(json_object_get(v, "records_per_day")));
    }
    v = json_object_get(exp, "obligations");
    assert_non_null(dec->obligations_json);
    if (v != NULL) {
        assert_true(json_equal((json_t *)dec->obligations_json, (json_t *)v));
        assert_int_equal(dec->obligations->no_training,
                         json_is_true(json_object_get(v, "no_training")));
        assert_int_equal(dec->obligations->no_onward_transfer,
                         json_is_true(json_object_get(v, "no_onward_transfer")));
        assert_int_equal(dec->obligations->retain_max_hours,
                         json_integer_value(json_object_get(v, "retain_max_hours")));
    }
}

static void
run_rows(const struct ecl_decision *dec, const json_t *rows)
{
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row)
    {
        const json_t *obj = json_object_get(row, "objected");
        const char *objected[8];
        size_t nobj = json_array_size(obj);
        enum ecl_policy_reason r;

        assert_true(nobj <= 8);
        for (size_t k = 0; k < nobj; k++) {
            objected[k] = json_string_value(json_array_get(obj, k));
        }
        r = ecl_policy_row_check(dec, json_object_get(row, "record"), objected, nobj);
        print_message("  row %zu\n", i);
        assert_string_equal(ecl_policy_reason_name(r),
                            json_string_value(json_object_get(row, "expect")));
        n_rows++;
    }
}

static void
run_valid(const json_t *vec)
{
    struct schemas s;
    struct ecl_policy *p;
    const json_t *pol = json_object_get(vec, "policy");
    const json_t *cases = json_object_get(vec, "cases");
    size_t i;
    json_t *c;

    schemas_from(json_object_get(vec, "schemas"), &s);
    if (json_is_string(pol)) {
        assert_string_equal(json_string_value(pol), "demo");
        p = parse_demo(&s);
    } else {
        char *text = json_dumps(pol, JSON_INDENT(2));
        assert_non_null(text);
        p = parse_ok(text, strlen(text), &s);
        free(text);
    }
    assert_true(json_array_size(cases) > 0);
    json_array_foreach(cases, i, c)
    {
        const json_t *f = json_object_get(c, "facts");
        struct ecl_policy_facts facts = {
            .agent = json_string_value(json_object_get(f, "agent")),
            .purpose = json_string_value(json_object_get(f, "purpose")),
            .dataset = json_string_value(json_object_get(f, "dataset")),
            .now = parse_time(json_object_get(f, "now")),
        };
        struct ecl_decision dec;

        if (json_is_true(json_object_get(f, "on_behalf_of"))) {
            facts.flags |= ECL_FACT_ON_BEHALF_OF;
        }
        if (json_is_true(json_object_get(f, "case_id"))) {
            facts.flags |= ECL_FACT_CASE_ID;
        }
        ecl_policy_eval(p, &facts, &dec);
        check_decision(json_string_value(json_object_get(c, "name")), &dec,
                       json_object_get(c, "expect"));
        run_rows(&dec, json_object_get(c, "rows"));
        n_cases++;
    }
    ecl_policy_free(p);
    schemas_free(&s);
}

static void
run_invalid(const json_t *list)
{
    struct schemas s;
    size_t i;
    json_t *c;

    schemas_demo(&s);
    json_array_foreach(list, i, c)
    {
        struct ecl_policy *sentinel = (struct ecl_policy *)&s;
        struct ecl_policy *p = sentinel;
        const json_t *errors = json_object_get(c, "errors");
        const json_t *count = json_object_get(c, "count");
        struct ecl_diags d;
        char *text;
        enum ecl_status st;
        size_t k;
        json_t *e;

        print_message("invalid: %s\n", json_string_value(json_object_get(c, "name")));
        if (json_object_get(c, "policy_text") != NULL) {
            text = strdup(json_string_value(json_object_get(c, "policy_text")));
        } else {
            text = json_dumps(json_object_get(c, "policy"), JSON_INDENT(1));
        }
        assert_non_null(text);
        ecl_diags_init(&d);
        st = ecl_policy_parse(text, strlen(text), (const struct ecl_schema *const *)s.s, s.n, &d,
                              &p);
        free(text);
        if (json_array_size(errors) == 0) {
            assert_int_equal(st, ECL_OK);
            ecl_policy_free(p);
            continue;
        }
        print_diags(&d);
        assert_int_equal(st, ECL_ERR_INVALID);
        assert_ptr_equal(p, sentinel); /* all or nothing: *out untouched */
        json_array_foreach(errors, k, e)
        {
            const char *path = json_string_value(json_object_get(e, "path"));
            const char *frag = json_string_value(json_object_get(e, "contains"));
            int found = 0;
            for (size_t j = 0; j < d.n; j++) {
                if (strcmp(d.items[j].path, path) == 0 && strstr(d.items[j].reason, frag)) {
                    found = 1;
                }
            }
            if (!found) {
                print_message("missing: %s: ...%s...\n", path, frag);
            }
            assert_true(found);
        }
        if (count != NULL) {
            assert_int_equal(ecl_diags_count(&d), (size_t)json_integer_value(count));
        }
        n_invalid++;
    }
    schemas_free(&s);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_vectors(void **state)
{
    char *dir = tu_vector_path("policy");
    char *names[64];
    size_t n = 0;
    DIR *dp = opendir(dir);
    struct dirent *de;

    (void)state;
    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
            assert_true(n < 64);
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(dp);
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *path = NULL;
        size_t len = 0;
        char *text;
        json_t *vec;

        assert_true(asprintf(&path, "%s/%s", dir, names[i]) > 0);
        print_message("vector file %s\n", names[i]);
        text = tu_read_file(path, &len);
        vec = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(vec);
        if (json_object_get(vec, "invalid") != NULL) {
            run_invalid(json_object_get(vec, "invalid"));
        } else {
            run_valid(vec);
        }
        json_decref(vec);
        free(text);
        free(path);
        free(names[i]);
    }
    free(dir);
    /* the vectors are not vacuous */
    assert_true(n >= 4);
    assert_true(n_cases >= 30);
    assert_true(n_rows >= 40);
    assert_true(n_invalid >= 60);
}

/* ---- property: nothing outside the grant ---------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
    /* xorshift64*: deterministic, so a failure can be replayed */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static const json_t *
find_rule(const struct ecl_policy *p, const char *id)
{
    size_t i;
    json_t *r;

    json_array_foreach(json_object_get(ecl_policy_json(p), "rules"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) {
            return r;
        }
    }
    return NULL;
}

/* The plan of an allowed decision names exactly the fields of the rule's grant, once each,
 * with the actions written in the document. */
static void
check_grant(const struct ecl_policy *p, const struct ecl_policy_facts *f,
            const struct ecl_decision *dec)
{
    const json_t *rule;
    const json_t *fields;

    if (dec->effect == ECL_POLICY_DENY) {
        assert_int_equal(dec->nfields, 0);
        assert_null(dec->fields);
        return;
    }
    rule = find_rule(p, dec->rule_id);
    assert_non_null(rule);
    assert_string_equal(json_string_value(json_object_get(rule, "dataset")), f->dataset);
    assert_string_equal(json_string_value(json_object_get(rule, "purpose")), f->purpose);
    fields = json_object_get(rule, "fields");
    assert_int_equal(dec->nfields, json_object_size(fields));
    for (size_t i = 0; i < dec->nfields; i++) {
        const json_t *want = json_object_get(fields, dec->fields[i].name);
        json_t *got;
        assert_non_null(want); /* never a field outside the grant */
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(dec->fields[i].name, dec->fields[j].name);
        }
        got = ecl_action_to_json(&dec->fields[i].action);
        if (json_is_string(want)) {
            assert_string_equal(json_string_value(json_object_get(got, "action")),
                                json_string_value(want));
        } else {
            assert_string_equal(json_string_value(json_object_get(got, "action")),
                                json_string_value(json_object_get(want, "action")));
        }
        json_decref(got);
    }
}

static void
random_requests(const struct ecl_policy *p, const char *const *agents, size_t nagents,
                const char *const *purposes, size_t npurposes, size_t n, size_t *allowed)
{
    static const char *const datasets[] = {"citizens", "benefits", "taxes"};

    for (size_t i = 0; i < n; i++) {
        struct ecl_policy_facts f = {
            .agent = agents[next_rand() % nagents],
            .purpose = purposes[next_rand() % npurposes],
            .dataset = datasets[next_rand() % 3],
            .flags = (unsigned)(next_rand() % 4),
            /* 2024-01-01 .. 2027-01-01 */
            .now = 1704067200 + (int64_t)(next_rand() % (3 * 366 * 86400ULL)),
        };
        struct ecl_decision dec;
        ecl_policy_eval(p, &f, &dec);
        check_grant(p, &f, &dec);
        if (dec.effect == ECL_POLICY_ALLOW) {
            const char *obj = f.purpose;
            json_t *empty = json_object();
            (*allowed)++;
            /* an objection to the purpose always wins */
            assert_int_equal(ecl_policy_row_check(&dec, empty, &obj, 1), ECL_REASON_OBJECTION);
            json_decref(empty);
        }
    }
}

/* A random policy over the demo schemas: random agents, purposes, field subsets and actions
 * that fit each field's type. */
static char *
random_policy(size_t nagents, size_t npurposes, const struct schemas *s)
{
    json_t *doc = json_object();
    json_t *purposes = json_array();
    json_t *agents = json_array();
    json_t *rules = json_array();
    char *text;

    json_object_set_new(doc, "format", json_integer(1));
    for (size_t i = 0; i < npurposes; i++) {
        char id[32];
        snprintf(id, sizeof id, "purpose%zu", i);
        json_array_append_new(purposes, json_pack("{s:s,s:s,s:s,s:{}}", "id", id, "description",
                                                  "d", "legal_basis", "art6_1_e", "obligations"));
    }
    for (size_t a = 0; a < nagents; a++) {
        char id[32];
        json_t *ps = json_array();
        snprintf(id, sizeof id, "agent%zu", a);
        for (size_t i = 0; i < npurposes; i++) {
            if (next_rand() % 3 != 0) {
                continue;
            }
            char pid[32];
            snprintf(pid, sizeof pid, "purpose%zu", i);
            json_array_append_new(ps, json_string(pid));
            for (size_t d = 0; d < s->n; d++) {
                json_t *fields;
                char rid[96];
                if (next_rand() % 2 == 0) {
                    continue;
                }
                fields = json_object();
                for (size_t k = 0; k < s->s[d]->nfields; k++) {
                    const struct ecl_field *fl = &s->s[d]->fields[k];
                    json_t *act;
                    if (next_rand() % 2 == 0) {
                        continue;
                    }
                    switch (fl->type == ECL_FT_STRING ? next_rand() % 4 : next_rand() % 2) {
                    case 0:
                        act = json_string("allow");
                        break;
                    case 1:
                        act = json_string("redact");
                        break;
                    case 2:
                        act = json_pack("{s:s,s:s}", "action", "pseudonymize", "domain", "agent");
                        break;
                    default:
                        act = json_pack("{s:s,s:i}", "action", "mask", "keep_last", 2);
                        break;
                    }
                    json_object_set_new(fields, fl->name, act);
                }
                if (json_object_size(fields) == 0) {
                    json_object_set_new(fields, s->s[d]->fields[0].name, json_string("allow"));
                }
                snprintf(rid, sizeof rid, "r-%zu-%zu-%zu", a, i, d);
                json_array_append_new(
                    rules, json_pack("{s:s,s:[s],s:s,s:s,s:o,s:{s:i,s:i,s:i}}", "id", rid, "agents",
                                     id, "purpose", pid, "dataset", s->s[d]->name, "fields", fields,
                                     "limits", "records_per_request", 1, "requests_per_minute", 1,
                                     "records_per_day", 1));
            }
        }
        if (json_array_size(ps) == 0) {
            json_array_append_new(ps, json_string("purpose0"));
        }
        json_array_append_new(agents, json_pack("{s:s,s:s,s:s,s:o}", "id", id, "description", "d",
                                                "organisation", "o", "purposes", ps));
    }
    json_object_set_new(doc, "purposes", purposes);
    json_object_set_new(doc, "agents", agents);
    json_object_set_new(doc, "rules", rules);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    return text;
}

static void
test_property_grant(void **state)
{
    static const char *const demo_agents[] = {"service-desk-assistant", "eligibility-assistant",
                                              "statistics-bot",         "fraud-detector",
                                              "winter-outreach-bot",    "nobody"};
    static const char *const demo_purposes[] = {"citizen_services",    "benefit_eligibility",
                                                "official_statistics", "fraud_detection",
                                                "winter_outreach",     "marketing"};
    struct schemas s;
    struct ecl_policy *p;
    const char *agents[40];
    const char *purposes[12];
    char names[52][32];
    size_t allowed = 0;
    char *text;

    (void)state;
    schemas_demo(&s);
    p = parse_demo(&s);
    random_requests(p, demo_agents, 6, demo_purposes, 6, 20000, &allowed);
    ecl_policy_free(p);
    assert_true(allowed > 500);

    text = random_policy(39, 11, &s);
    p = parse_ok(text, strlen(text), &s);
    free(text);
    for (size_t i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "agent%zu", i); /* agent39 is unknown */
        agents[i] = names[i];
    }
    for (size_t i = 0; i < 12; i++) {
        snprintf(names[40 + i], sizeof names[40 + i], "purpose%zu", i); /* purpose11: unknown */
        purposes[i] = names[40 + i];
    }
    allowed = 0;
    random_requests(p, agents, 40, purposes, 12, 20000, &allowed);
    assert_true(allowed > 500);
    ecl_policy_free(p);
    schemas_free(&s);
}

/* ---- other properties ----------------------------------------------------------------------- */

/* The same object with its keys inserted in reverse order, recursively. */
static json_t *
reversed(const json_t *v)
{
    if (json_is_object(v)) {
        const char *keys[64];
        size_t n = 0;
        const char *k;
        json_t *c;
        json_t *o = json_object();
        json_object_foreach((json_t *)v, k, c)
        {
            assert_true(n < 64);
            keys[n++] = k;
        }
        while (n > 0) {
            n--;
            json_object_set_new(o, keys[n], reversed(json_object_get(v, keys[n])));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            json_array_append_new(a, reversed(c));
        }
        return a;
    }
    return json_deep_copy(v);
}

static void
test_canonical(void **state)
{
    struct schemas s;
    struct ecl_policy *a;
    struct ecl_policy *b;
    struct ecl_policy *c;
    json_t *doc;
    json_t *rev;
    char *text;
    const char *ca;
    const char *cb;
    size_t la;
    size_t lb;

    (void)state;
    schemas_demo(&s);
    a = parse_demo(&s);
    doc = json_loadb(ecl_asset_policy, ecl_asset_policy_len, 0, NULL);
    rev = reversed(doc);
    text = json_dumps(rev, JSON_INDENT(7) | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    assert_int_not_equal(strlen(text), ecl_asset_policy_len);
    b = parse_ok(text, strlen(text), &s);
    free(text);
    ca = ecl_policy_canonical(a, &la);
    cb = ecl_policy_canonical(b, &lb);
    assert_int_equal(la, lb);
    assert_string_equal(ca, cb);
    assert_null(strchr(ca, '\n'));
    /* and the plan does not depend on key order either */
    struct ecl_policy_facts f = {"service-desk-assistant", "citizen_services", "citizens", 0, 0};
    struct ecl_decision da;
    struct ecl_decision db;
    ecl_policy_eval(a, &f, &da);
    ecl_policy_eval(b, &f, &db);
    assert_int_equal(da.nfields, 10);
    assert_int_equal(db.nfields, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(da.fields[i].name, db.fields[i].name);
        assert_int_equal(da.fields[i].schema_index, db.fields[i].schema_index);
    }
    /* a one-character change changes the canonical form */
    json_integer_set(
        json_object_get(json_object_get(json_array_get(json_object_get(rev, "rules"), 0), "limits"),
                        "records_per_request"),
        11);
    text = json_dumps(rev, 0);
    c = parse_ok(text, strlen(text), &s);
    free(text);
    assert_string_not_equal(ecl_policy_canonical(c, &lb), ca);
    assert_int_equal(ecl_policy_four_eyes(a), ECL_FOUR_EYES_POLICY | ECL_FOUR_EYES_REIDENTIFY);
    assert_int_equal(ecl_policy_rule_count(a), 8);
    json_decref(doc);
    json_decref(rev);
    ecl_policy_free(a);
    ecl_policy_free(b);
    ecl_policy_free(c);
    schemas_free(&s);
}

static void
test_explain(void **state)
{
    struct schemas s;
    struct ecl_policy *p;
    json_t *out = NULL;
    const json_t *pu;
    const json_t *grants;

    (void)state;
    schemas_demo(&s);
    p = parse_demo(&s);
    assert_int_equal(ecl_policy_explain(p, "eligibility-assistant", NULL, &out), ECL_OK);
    assert_string_equal(json_string_value(json_object_get(out, "agent")), "eligibility-assistant");
    assert_int_equal(json_array_size(json_object_get(out, "purposes")), 1);
    pu = json_array_get(json_object_get(out, "purposes"), 0);
    assert_string_equal(json_string_value(json_object_get(pu, "purpose")), "benefit_eligibility");
    assert_string_equal(json_string_value(json_object_get(pu, "legal_basis")), "art6_1_e");
    assert_true(json_is_true(json_object_get(pu, "require_on_behalf_of")));
    assert_true(json_is_true(json_object_get(pu, "require_case_id")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(pu, "obligations"), "retain_max_hours")),
        24);
    grants = json_object_get(pu, "grants");
    assert_int_equal(json_array_size(grants), 2);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_array_get(grants, 0), "fields"), "nir"),
            "action")),
        "pseudonymize");
    assert_null(json_object_get(json_object_get(json_array_get(grants, 0), "fields"), "iban"));
    json_decref(out);

    out = NULL;
    assert_int_equal(ecl_policy_explain(p, "winter-outreach-bot", "winter_outreach", &out), ECL_OK);
    grants = json_object_get(json_array_get(json_object_get(out, "purposes"), 0), "grants");
    assert_non_null(json_object_get(json_array_get(grants, 0), "valid"));
    assert_int_equal(json_array_size(json_object_get(json_array_get(grants, 0), "conditions")), 2);
    json_decref(out);

    out = NULL;
    assert_int_equal(ecl_policy_explain(p, "nobody", NULL, &out), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_policy_explain(p, "statistics-bot", "fraud_detection", &out),
                     ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_policy_explain(p, "statistics-bot", "no_such_purpose", &out),
                     ECL_ERR_NOT_FOUND);
    assert_null(out);
    ecl_policy_free(p);
    schemas_free(&s);
}

static void
test_rfc3339(void **state)
{
    static const struct {
        const char *s;
        int64_t t;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2000-02-29T23:59:59Z", 951868799},
        {"2025-11-01T00:00:00Z", 1761955200},
        {"1969-12-31T23:59:59Z", -1},
        {"0001-01-01T00:00:00Z", -62135596800LL},
        {"9999-12-31T23:59:59Z", 253402300799LL},
    };
    static const char *const bad[] = {
        "2025-11-01T00:00:00",  "2025-11-01 00:00:00Z",   "2025-11-01T24:00:00Z",
        "2025-11-01T00:60:00Z", "2025-11-01T00:00:60Z",   "2025-02-29T00:00:00Z",
        "2025-11-01t00:00:00z", "2025-11-01T00:00:00.5Z", "",
        "0000-01-01T00:00:00Z",
    };
    char out[21];
    int64_t t;

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(ecl_rfc3339_parse(good[i].s, strlen(good[i].s), &t));
        assert_int_equal(t, good[i].t);
        assert_true(ecl_rfc3339_format(t, out));
        assert_string_equal(out, good[i].s);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ecl_rfc3339_parse(bad[i], strlen(bad[i]), &t));
    }
    assert_false(ecl_rfc3339_format(253402300800LL, out));
    assert_false(ecl_rfc3339_format(-62135596801LL, out));
}

/* Diagnostics name the place and the reason, never a value of the document. */
static void
test_no_value_in_errors(void **state)
{
    static const char doc[] =
        "{\"format\":1,\"purposes\":[{\"id\":\"p\",\"description\":\"d\",\"legal_basis\":"
        "\"art6_1_e\",\"obligations\":{}}],\"agents\":[{\"id\":\"a\",\"description\":\"d\","
        "\"organisation\":\"o\",\"purposes\":[\"p\"]}],\"rules\":[{\"id\":\"r\",\"agents\":[\"a\"],"
        "\"purpose\":\"p\",\"dataset\":\"citizens\",\"conditions\":[{\"field\":\"sex\",\"eq\":"
        "\"SECRET-1\"},{\"field\":\"nir\",\"in\":[\"SECRET-2\",17]},{\"field\":\"birth_date\","
        "\"range\":{\"min\":\"SECRET-3\"}}],\"fields\":{\"sex\":\"allow\"},\"limits\":{"
        "\"records_per_request\":1,\"requests_per_minute\":1,\"records_per_day\":1}}]}";
    struct schemas s;
    struct ecl_policy *p = NULL;
    struct ecl_diags d;

    (void)state;
    schemas_demo(&s);
    ecl_diags_init(&d);
    assert_int_equal(
        ecl_policy_parse(doc, strlen(doc), (const struct ecl_schema *const *)s.s, s.n, &d, &p),
        ECL_ERR_INVALID);
    assert_null(p);
    assert_int_equal(d.n, 3);
    for (size_t i = 0; i < d.n; i++) {
        assert_null(strstr(d.items[i].reason, "SECRET"));
        assert_null(strstr(d.items[i].path, "SECRET"));
    }
    schemas_free(&s);
}

static void
test_size_limit_and_no_schemas(void **state)
{
    struct schemas s;
    struct ecl_policy *p = NULL;
    struct ecl_diags d;
    char *big = calloc(1, (size_t)ECL_POLICY_MAX_BYTES + 2);

    (void)state;
    assert_non_null(big);
    memset(big, ' ', (size_t)ECL_POLICY_MAX_BYTES + 1);
    ecl_diags_init(&d);
    assert_int_equal(ecl_policy_parse(big, (size_t)ECL_POLICY_MAX_BYTES + 1, NULL, 0, &d, &p),
                     ECL_ERR_LIMIT);
    assert_null(p);
    free(big);
    /* the demo policy without its datasets: every rule's dataset is unknown */
    ecl_diags_init(&d);
    assert_int_equal(ecl_policy_parse(ecl_asset_policy, ecl_asset_policy_len, NULL, 0, &d, &p),
                     ECL_ERR_INVALID);
    assert_int_equal(d.n, 8);
    assert_string_equal(d.items[0].path, "/rules/0/dataset");
    /* and with them, it loads */
    schemas_demo(&s);
    p = parse_demo(&s);
    ecl_policy_free(p);
    schemas_free(&s);
}

/* Every reason has a distinct stable name and a sentence. */
static void
test_reasons(void **state)
{
    (void)state;
    for (int i = 0; i < ECL_REASON_COUNT; i++) {
        const char *n = ecl_policy_reason_name((enum ecl_policy_reason)i);
        assert_non_null(n);
        assert_true(strlen(ecl_policy_reason_text((enum ecl_policy_reason)i)) > 10);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(n, ecl_policy_reason_name((enum ecl_policy_reason)j));
        }
    }
    assert_string_equal(ecl_policy_reason_name((enum ecl_policy_reason)99), "internal");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_property_grant),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_no_value_in_errors),
        cmocka_unit_test(test_size_limit_and_no_schemas),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
