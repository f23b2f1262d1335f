/* Helpers shared by the record-store subcommands (dataset, import, record, erase, objection,
 * demo-data, demo). */
#ifndef ECL_RECORDS_CLI_H
#define ECL_RECORDS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "ecl/limits.h"
#include "store/records.h"

/* Everything a record command needs, opened together and closed in reverse. */
struct ecl_cli_records {
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_records *rec;
    int lock_fd; /* shared keyring lock of a writing command, or -1 */
};

/* Loads the keyring, opens the store and the record layer.  Returns 0 or a sysexits code
 * (after printing why). */
int ecl_cli_records_open(struct ecl_cli *cli, enum ecl_store_flags flags,
                         struct ecl_cli_records *out);
void ecl_cli_records_close(struct ecl_cli_records *h);

/* A subject identifier from the command line: the argument itself, or, when it is "-", one
 * line of standard input (so that the identifier does not show in the process list).  Returns 0
 * or EX_USAGE / EX_DATAERR after printing why. */
int ecl_cli_subject_arg(const char *arg, char out[ECL_SUBJECT_ID_MAX_LEN + 1], size_t *len);

/* Imports FILE ("-" for standard input) into dataset and prints the outcome; a progress line on
 * stderr when stderr is a terminal.  Returns a sysexits code; *out gets the counts on success. */
int ecl_cli_import_file(struct ecl_records *rec, const char *dataset, const char *path,
                        enum ecl_import_format format, struct ecl_import_result *out);
/* The same from an open stream (borrowed); label names it in messages. */
int ecl_cli_import_stream(struct ecl_records *rec, const char *dataset, const char *label, FILE *f,
                          enum ecl_import_format format);
/* The same, with the counts in *out on success (for the records.import audit entry). */
int ecl_cli_import_stream_result(struct ecl_records *rec, const char *dataset, const char *label,
                                 FILE *f, enum ecl_import_format format,
                                 struct ecl_import_result *out);

/* ---- demo population (gateway/cli/demo_data.c) --------------------------------------------- */

struct ecl_demo_stats {
    uint64_t people;
    uint64_t households;
};

/* Writes a deterministic synthetic population of size people (same seed, same bytes) as JSON
 * Lines: one citizens record and one benefits record per person, with exactly the fields of
 * demo/citizens.schema.json and demo/benefits.schema.json.  Uses its own PRNG (xoshiro256**
 * seeded by splitmix64), never the system's randomness.  ECL_ERR_IO on a write error,
 * ECL_ERR_LIMIT when size exceeds ECL_DEMO_MAX_SIZE. */
enum ecl_status ecl_demo_generate(uint64_t seed, uint64_t size, FILE *citizens, FILE *benefits,
                                  struct ecl_demo_stats *out) ECL_WUR;

/* Prepares the demo data directory cli->data_dir: `init` when it does not exist, creates the
 * citizens and benefits datasets from the embedded schemas when missing, generates the
 * population (in unlinked temporary files, never inside the data directory) and imports it
 * through the same code path as `ecluse import`.  A directory whose two datasets already hold
 * records is left untouched (*out_prepared_now = 0).  Prints a summary on stdout.  Returns a
 * sysexits code.  For `ecluse demo` and whoever extends it (policy, principals, serving). */
int ecl_demo_prepare(struct ecl_cli *cli, uint64_t seed, uint64_t size, int *out_prepared_now);

/* Rotates the demo keys (the policy is stored by ecl_demo_ensure_policy), prints them with example
 * requests and serves until SIGTERM/SIGINT (demo_serve.c).  Returns a sysexits code. */
int ecl_demo_serve(struct ecl_cli *cli, uint64_t seed, const char *listen, unsigned threads);

/* Stores and activates the demo policy (demo/policy.json) when no policy is active, with its
 * policy.change audit entry, like `ecluse policy set` (demo_serve.c).  Returns a sysexits code. */
int ecl_demo_ensure_policy(struct ecl_cli *cli);

#endif
