/* The subcommand table.  Each subcommand lives in its own cmd_*.c file. */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

const struct ecl_cmd ecl_commands[] = {
    {"init", ecl_cmd_init, "create a new data directory with its keys"},
    {"keys", ecl_cmd_keys, "show public key material (keys show)"},
    {"principal", ecl_cmd_principal, "manage API keys and roles (add, list, revoke)"},
    {"serve", ecl_cmd_serve, "run the HTTP server"},
    {NULL, NULL, NULL},
};
