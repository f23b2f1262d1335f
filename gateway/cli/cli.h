/* The `ecluse` command: global options and the subcommand table. */
#ifndef ECL_CLI_H
#define ECL_CLI_H

#include <stdint.h>

#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/status.h"
#include "store/store.h"

struct ecl_cli {
    const char *data_dir;          /* --data, $ECLUSE_DATA, or ./ecluse-data */
    struct ecl_key_source key_src; /* --master-key-fd, --master-key-file, credential */
    int have_key_src;
    int keyring_locked; /* this process holds the keyring lock exclusively (key rotation) */
};

/* A subcommand: argv[0] is the subcommand's name; returns a sysexits code. */
typedef int (*ecl_cmd_fn)(struct ecl_cli *cli, int argc, char **argv);

struct ecl_cmd {
    const char *name;
    ecl_cmd_fn fn;
    const char *summary;
};

/* Loads the keyring of the data directory with the configured master key source. Prints a
 * message and returns a sysexits code on failure, 0 on success. */
int ecl_cli_keyring(struct ecl_cli *cli, struct ecl_keyring **out);
/* Loads the keyring and opens the store. */
int ecl_cli_open(struct ecl_cli *cli, enum ecl_store_flags flags, struct ecl_keyring **kr,
                 struct ecl_store **store);
/* Prints "ecluse: <what>: <status text>" and returns the status's exit code. */
int ecl_cli_fail(const char *what, enum ecl_status st);
/* 1 when argv[i] is -h or --help. */
int ecl_cli_wants_help(int argc, char **argv);

int ecl_cmd_init(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_keys(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_policy(struct ecl_cli *cli, int argc, char **argv);

/* the record store (gateway/cli/records_cli.h) */
int ecl_cmd_dataset(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_import(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_record(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_erase(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_objection(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_demo_data(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_demo(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_principal(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_serve(struct ecl_cli *cli, int argc, char **argv);
int ecl_cmd_audit(struct ecl_cli *cli, int argc, char **argv);

/* Serving (cmd_serve.c): block SIGTERM/SIGINT/SIGHUP before any thread starts, then, once the
 * app serves, log "listening" and handle signals until SIGTERM or SIGINT (SIGHUP reloads TLS
 * and the active policy).  Shared by serve and demo. */
struct ecl_app;
struct ecl_http_config;
void ecl_serve_block_signals(void);
void ecl_serve_loop(struct ecl_app *app, const struct ecl_http_config *cfg);
/* Audit entries of the administrative commands (gateway/cli/cli_audit.c). */
struct ecl_audit_event;
struct ecl_schema;
/* Appends ev (channel CLI, principal "cli:<unix user>", role "operator" filled in) durably to
 * the audit log, also while a server runs.  Returns 0, or prints why and returns a sysexits
 * code. */
int ecl_cli_audit_event(struct ecl_store *store, const struct ecl_keyring *kr,
                        struct ecl_audit_event *ev);
/* The identifier normalised as schema s's subject field normalises it (what audit entries
 * name); 0, or -1 when empty once normalised.  Wipe out after use. */
int ecl_cli_audit_subject(const struct ecl_schema *s, const char *id, size_t len,
                          char out[ECL_SUBJECT_ID_MAX_LEN + 1]);

/* policy.change: "policy version N <what>" with the version and its content hash (hex). */
int ecl_cli_audit_policy(struct ecl_store *store, const struct ecl_keyring *kr, uint64_t version,
                         const char *hash_hex, const char *what);
/* principal.change: "principal <id> (<name>, role <role>) <what>". */
struct ecl_principal;
int ecl_cli_audit_principal(struct ecl_store *store, const struct ecl_keyring *kr,
                            const struct ecl_principal *p, const char *what);
/* records.import: "imported N records (N new, N updated)" into dataset. */
struct ecl_import_result;
int ecl_cli_audit_import(struct ecl_store *store, const struct ecl_keyring *kr, const char *dataset,
                         const struct ecl_import_result *res);

#endif
