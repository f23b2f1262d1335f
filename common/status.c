#include <sysexits.h>

#include "ecl/status.h"

static const char *const names[] = {
    [ECL_OK] = "ok",
    [ECL_ERR_NOMEM] = "out_of_memory",
    [ECL_ERR_INVALID] = "invalid",
    [ECL_ERR_NOT_FOUND] = "not_found",
    [ECL_ERR_EXISTS] = "exists",
    [ECL_ERR_CRYPTO] = "crypto",
    [ECL_ERR_IO] = "io",
    [ECL_ERR_PERM] = "permissions",
    [ECL_ERR_LIMIT] = "limit",
    [ECL_ERR_FULL] = "storage_full",
    [ECL_ERR_SEALED] = "sealed",
    [ECL_ERR_DENIED] = "denied",
    [ECL_ERR_CONFLICT] = "conflict",
    [ECL_ERR_INTERNAL] = "internal",
};
_Static_assert(sizeof(names) / sizeof(names[0]) == ECL_STATUS_COUNT, "one name per status");

static const int exit_codes[] = {
    [ECL_OK] = EX_OK,
    [ECL_ERR_NOMEM] = EX_OSERR,
    [ECL_ERR_INVALID] = EX_DATAERR,
    [ECL_ERR_NOT_FOUND] = EX_NOINPUT,
    [ECL_ERR_EXISTS] = EX_CANTCREAT,
    [ECL_ERR_CRYPTO] = EX_DATAERR,
    [ECL_ERR_IO] = EX_IOERR,
    [ECL_ERR_PERM] = EX_NOPERM,
    [ECL_ERR_LIMIT] = EX_DATAERR,
    [ECL_ERR_FULL] = EX_IOERR,
    [ECL_ERR_SEALED] = EX_UNAVAILABLE,
    [ECL_ERR_DENIED] = EX_NOPERM,
    [ECL_ERR_CONFLICT] = EX_TEMPFAIL,
    [ECL_ERR_INTERNAL] = EX_SOFTWARE,
};
_Static_assert(sizeof(exit_codes) / sizeof(exit_codes[0]) == ECL_STATUS_COUNT,
               "one exit code per status");

const char *
ecl_status_name(enum ecl_status st)
{
    if ((unsigned)st >= ECL_STATUS_COUNT) {
        return "internal";
    }
    return names[st];
}

int
ecl_status_exit_code(enum ecl_status st)
{
    if ((unsigned)st >= ECL_STATUS_COUNT) {
        return EX_SOFTWARE;
    }
    return exit_codes[st];
}
