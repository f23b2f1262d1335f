/* One status vocabulary for every module.  A function that can fail returns enum ecl_status
 * and is marked ECL_WUR so that the compiler refuses to let a caller ignore it. */
#ifndef ECL_STATUS_H
#define ECL_STATUS_H

#define ECL_WUR __attribute__((warn_unused_result))

enum ecl_status {
    ECL_OK = 0,
    ECL_ERR_NOMEM,     /* allocation failed */
    ECL_ERR_INVALID,   /* input does not parse or does not validate */
    ECL_ERR_NOT_FOUND, /* no such object (or not allowed: callers must not tell them apart) */
    ECL_ERR_EXISTS,    /* object already exists */
    ECL_ERR_CRYPTO,    /* authentication of a ciphertext or signature failed */
    ECL_ERR_IO,        /* operating system I/O failure */
    ECL_ERR_PERM,      /* file permissions or ownership unsafe */
    ECL_ERR_LIMIT,     /* a named limit was exceeded */
    ECL_ERR_FULL,      /* storage full (map full, disk full) */
    ECL_ERR_SEALED,    /* the gateway refuses service after an audit failure */
    ECL_ERR_DENIED,    /* the policy or the role refuses */
    ECL_ERR_CONFLICT,  /* precondition failed (stale version, busy) */
    ECL_ERR_INTERNAL,  /* a bug: an invariant did not hold */
};
#define ECL_STATUS_COUNT 14

/* Stable lowercase name of a status, for logs and problem types.  Never NULL. */
const char *ecl_status_name(enum ecl_status st);

/* The sysexits.h code the CLI exits with for a status. */
int ecl_status_exit_code(enum ecl_status st);

/* Early return on failure, for functions that own nothing (s2n's GUARD). */
#define ECL_GUARD(expr)                                                                            \
    do {                                                                                           \
        enum ecl_status ecl_guard_st_ = (expr);                                                    \
        if (ecl_guard_st_ != ECL_OK) {                                                             \
            return ecl_guard_st_;                                                                  \
        }                                                                                          \
    } while (0)

#endif
