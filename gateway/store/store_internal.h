/* Shared by the files of gateway/store/ only: the LMDB handles. */
#ifndef ECL_STORE_INTERNAL_H
#define ECL_STORE_INTERNAL_H

#include <lmdb.h>

#include "store.h"

struct ecl_store {
    MDB_env *rec_env;
    MDB_env *aud_env;
    int readonly;

    /* records environment */
    MDB_dbi meta;       /* store-wide settings and counters */
    MDB_dbi datasets;   /* dataset name -> schema JSON */
    MDB_dbi records;    /* dataset || subject key -> sealed record */
    MDB_dbi datakeys;   /* dataset || subject key -> wrapped data key */
    MDB_dbi index;      /* dataset || field || blind index || subject key -> "" (DUPSORT-free) */
    MDB_dbi objections; /* dataset || subject key -> purposes */
    MDB_dbi pseudo;     /* legacy pseudonym index (read as a fallback only; see pseudo.c) */
    MDB_dbi policies;   /* version (u64 BE) -> policy document and metadata */
    MDB_dbi principals; /* key id -> principal */
    MDB_dbi approvals;  /* approval id -> pending change */

    /* audit environment */
    MDB_dbi a_meta;          /* log state */
    MDB_dbi a_entries;       /* seq (u64 BE) -> leaf bytes */
    MDB_dbi a_nodes;         /* tree nodes */
    MDB_dbi a_checkpoints;   /* size (u64 BE) -> signed note */
    MDB_dbi a_idx_subject;   /* token || seq -> "" */
    MDB_dbi a_idx_principal; /* token || seq -> "" */
    /* index key || dataset -> sealed target: the look-up-by-pseudonym index, written in the
     * transaction of the audit entry that released the pseudonym (pseudo.h) */
    MDB_dbi a_pseudo;
    int has_a_pseudo; /* 0: a read-only open of a store made before a_pseudo existed */
};

/* Maps an LMDB return code to a status (MDB_MAP_FULL and ENOSPC become ECL_ERR_FULL). */
enum ecl_status ecl_store_mdb_status(int rc);

#endif
