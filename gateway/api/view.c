/* The agent's view of its access (view.h), shared by the agent API and the MCP backend. */
#include <stdio.h>
#include <string.h>

#include "view.h"

json_t *
ecl_api_obligations_list(const json_t *obl)
{
    json_t *list = json_array();
    const char *key;
    json_t *v;
    char item[ECL_NAME_MAX_LEN + 32];

    if (list == NULL || obl == NULL) {
        return list;
    }
    json_object_foreach((json_t *)obl, key, v)
    {
        int bad = 0;
        if (json_is_true(v)) {
            bad = json_array_append_new(list, json_string(key));
        } else if (json_is_integer(v) && json_integer_value(v) > 0) {
            (void)snprintf(item, sizeof item, "%.*s=%" JSON_INTEGER_FORMAT, ECL_NAME_MAX_LEN, key,
                           json_integer_value(v));
            bad = json_array_append_new(list, json_string(item));
        }
        if (bad) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Whether the explained purpose has a grant on dataset. */
static int
grants_dataset(const json_t *purpose, const char *dataset)
{
    size_t i;
    json_t *g;

    json_array_foreach(json_object_get(purpose, "grants"), i, g)
    {
        const char *ds = json_string_value(json_object_get(g, "dataset"));
        if (ds != NULL && strcmp(ds, dataset) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One purpose of a dataset entry: the rule in force now, if any (*out NULL when none). */
static enum ecl_status
purpose_view(const struct ecl_policy *policy, const char *agent, const json_t *purpose,
             const char *dataset, int64_t now, json_t **out)
{
    const char *pid = json_string_value(json_object_get(purpose, "purpose"));
    int obo = json_is_true(json_object_get(purpose, "require_on_behalf_of"));
    int cas = json_is_true(json_object_get(purpose, "require_case_id"));
    struct ecl_policy_facts facts;
    struct ecl_decision d;
    json_t *fields;
    json_t *p;

    *out = NULL;
    memset(&facts, 0, sizeof facts);
    facts.agent = agent;
    facts.purpose = pid;
    facts.dataset = dataset;
    facts.flags = (obo ? ECL_FACT_ON_BEHALF_OF : 0u) | (cas ? ECL_FACT_CASE_ID : 0u);
    facts.now = now;
    ecl_policy_eval(policy, &facts, &d);
    if (d.effect != ECL_POLICY_ALLOW) {
        return ECL_OK; /* outside its validity window now: not shown */
    }
    fields = json_object();
    if (fields == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i < d.nfields; i++) {
        if (json_object_set_new(fields, d.fields[i].name,
                                json_string(ecl_action_kind_name(d.fields[i].action.kind))) != 0) {
            json_decref(fields);
            return ECL_ERR_NOMEM;
        }
    }
    /* The policy language has no per-operation grant: a rule in force allows get and query
     * alike (the rule's limits bound both). */
    p = json_pack("{s:s,s:[ss],s:[],s:o,s:o*}", "purpose", pid, "operations", "get", "query",
                  "requires", "fields", fields, "obligations",
                  ecl_api_obligations_list(json_object_get(purpose, "obligations")));
    if (p == NULL) {
        return ECL_ERR_NOMEM;
    }
    if ((obo &&
         json_array_append_new(json_object_get(p, "requires"), json_string("on_behalf_of")) != 0) ||
        (cas && json_array_append_new(json_object_get(p, "requires"), json_string("case")) != 0) ||
        json_object_get(p, "obligations") == NULL) {
        json_decref(p);
        return ECL_ERR_NOMEM;
    }
    *out = p;
    return ECL_OK;
}

/* One dataset entry, or *out NULL when no purpose of explained is in force for it. */
static enum ecl_status
dataset_view(struct ecl_app *app, const struct ecl_policy *policy, const char *agent,
             const json_t *explained, const char *name, int64_t now, json_t **out)
{
    const struct ecl_schema *schema = NULL;
    json_t *purposes = json_array();
    json_t *pu;
    json_t *pv = NULL;
    size_t i;
    enum ecl_status st = ECL_OK;

    *out = NULL;
    if (purposes == NULL) {
        return ECL_ERR_NOMEM;
    }
    json_array_foreach(json_object_get(explained, "purposes"), i, pu)
    {
        if (!grants_dataset(pu, name)) {
            continue;
        }
        st = purpose_view(policy, agent, pu, name, now, &pv);
        if (st != ECL_OK) {
            goto out;
        }
        if (pv != NULL && json_array_append_new(purposes, pv) != 0) {
            st = ECL_ERR_NOMEM;
            goto out;
        }
    }
    if (json_array_size(purposes) == 0 ||
        ecl_records_dataset_get(app->records, name, &schema) != ECL_OK) {
        goto out;
    }
    *out = json_pack("{s:s,s:o,s:O}", "name", name, "description",
                     schema->description != NULL ? json_string(schema->description) : json_null(),
                     "purposes", purposes);
    st = *out != NULL ? ECL_OK : ECL_ERR_NOMEM;
out:
    json_decref(purposes);
    return st;
}

enum ecl_status
ecl_api_view_datasets(struct ecl_app *app, const struct ecl_policy *policy, const char *agent,
                      int64_t now, json_t **out)
{
    json_t *explained = NULL;
    json_t *names = NULL;
    json_t *list = json_array();
    json_t *entry = NULL;
    enum ecl_status st = ECL_OK;
    size_t i;
    json_t *name;

    if (list == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (policy != NULL) {
        st = ecl_policy_explain(policy, agent, NULL, &explained);
        if (st == ECL_ERR_NOT_FOUND) {
            st = ECL_OK; /* an agent the policy does not name may use nothing */
        }
    }
    if (st == ECL_OK && explained != NULL) {
        st = ecl_records_dataset_list(app->records, &names);
    }
    json_array_foreach(names, i, name)
    {
        if (st == ECL_OK) {
            st = dataset_view(app, policy, agent, explained, json_string_value(name), now, &entry);
        }
        if (st == ECL_OK && entry != NULL && json_array_append_new(list, entry) != 0) {
            st = ECL_ERR_NOMEM;
        }
    }
    if (st == ECL_OK) {
        *out = json_incref(list);
    }
    json_decref(names);
    json_decref(explained);
    json_decref(list);
    return st;
}
