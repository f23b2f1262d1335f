/* The subcommand table.  Each subcommand lives in its own cmd_*.c file. */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

const struct ecl_cmd ecl_commands[] = {
    {"init", ecl_cmd_init, "create a new data directory with its keys"},
    {"keys", ecl_cmd_keys, "show public key material (keys show)"},
    {"audit", ecl_cmd_audit, "verify and read the audit log (audit verify|checkpoint|show|list)"},
    {NULL, NULL, NULL},
};
