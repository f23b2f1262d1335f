/* What an agent may use, as the agent API (GET /v1/datasets, list_datasets) and the MCP
 * tools/list descriptions show it: one builder so that both channels say the same thing.  Not a
 * disclosure: no record is read. */
#ifndef ECL_API_VIEW_H
#define ECL_API_VIEW_H

#include <stdint.h>

#include <jansson.h>

#include "app.h"

/* The purpose's obligations object ({"no_training": true, "retain_max_hours": 24, ...}) as a
 * list of strings: "no_training", "retain_max_hours=24".  False flags and zero (not stated) are
 * left out: they oblige to nothing.  obl may be NULL (an empty list).  A new array, NULL when
 * out of memory. */
json_t *ecl_api_obligations_list(const json_t *obl);

/* The datasets of the store that agent may use at time now, in name order:
 *   [{"name", "description" (string or null), "purposes": [{"purpose",
 *     "operations": ["get", "query"], "requires": ["on_behalf_of"|"case"...],
 *     "fields": {name: action}, "obligations": [str...]}]}]
 * A purpose is listed for a dataset when a rule of the policy is in force now for (agent,
 * purpose, dataset), as ecl_policy_eval decides it with the purpose's requirements met; fields
 * are that rule's.  policy may be NULL (no active policy) and an agent the policy does not name
 * gets an empty list.  *out is a new array. */
enum ecl_status ecl_api_view_datasets(struct ecl_app *app, const struct ecl_policy *policy,
                                      const char *agent, int64_t now, json_t **out) ECL_WUR;

#endif
