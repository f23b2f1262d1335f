#ifndef ECL_COMMANDS_H
#define ECL_COMMANDS_H

#include "cli.h"

/* Terminated by an entry whose name is NULL. */
extern const struct ecl_cmd ecl_commands[];

#endif
