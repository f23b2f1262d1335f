/* The subcommand table.  Each subcommand lives in its own cmd_*.c file. */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

const struct ecl_cmd ecl_commands[] = {
    {"init", ecl_cmd_init, "create a new data directory with its keys"},
    {"keys", ecl_cmd_keys, "show public key material (keys show)"},
    {"dataset", ecl_cmd_dataset, "create, list and show datasets (schemas)"},
    {"import", ecl_cmd_import, "import JSON Lines or CSV records into a dataset"},
    {"record", ecl_cmd_record, "operator tool: print decrypted records (get, find)"},
    {"erase", ecl_cmd_erase, "erase a subject from a dataset (GDPR Art. 17)"},
    {"objection", ecl_cmd_objection, "record a subject's objections (GDPR Art. 21)"},
    {"demo-data", ecl_cmd_demo_data, "write a synthetic demo population (JSON Lines)"},
    {"demo", ecl_cmd_demo, "prepare a demo data directory"},
    {"policy", ecl_cmd_policy, "validate, set, show, list, activate and explain policy versions"},
    {"principal", ecl_cmd_principal, "manage API keys and roles (add, list, revoke)"},
    {"serve", ecl_cmd_serve, "run the HTTP server"},
    {"audit", ecl_cmd_audit, "verify and read the audit log (audit verify|checkpoint|show|list)"},
    {NULL, NULL, NULL},
};
