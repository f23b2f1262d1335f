/* ecluse policy: validate, set, show, versions, activate, explain (docs/policy.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ecl/policy.h"
#include "store/policy_db.h"

static void
policy_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] policy validate [--schema FILE]... FILE\n"
               "       ecluse [--data DIR] policy set [--author NAME] [--without-approval] FILE\n"
               "       ecluse [--data DIR] policy show [--version N] [--canonical]\n"
               "       ecluse [--data DIR] policy versions\n"
               "       ecluse [--data DIR] policy activate [--without-approval] N\n"
               "       ecluse [--data DIR] policy explain AGENT [PURPOSE]\n"
               "\n"
               "validate  checks a policy document against the datasets of DIR (or against the\n"
               "          schema files given with --schema) and prints each problem as\n"
               "          \"JSON-pointer: reason\" (exit 65 when there is any).\n"
               "set       validates FILE against the datasets of DIR, stores it as a new version\n"
               "          and makes it the active one.  --author defaults to the login name.\n"
               "show      prints the active version (or version N); --canonical prints the exact\n"
               "          bytes the version's hash covers (b2sum -l 256 recomputes it).\n"
               "versions  lists every version: number, time, author, BLAKE2b-256 hash, active.\n"
               "activate  makes version N the active one again (roll back or forward), after\n"
               "          checking that it still validates against the datasets of DIR.\n"
               "explain   prints what AGENT may see under the active policy, for every purpose\n"
               "          or for PURPOSE only.\n"
               "\n"
               "When the active policy requires a second DPO's approval for policy changes\n"
               "(four_eyes.policy_changes), set and activate refuse (exit 77): propose the change\n"
               "through the DPO API instead (docs/dpo-guide.md).  --without-approval makes the\n"
               "change anyway, as an operator's deliberate override; its audit entry says so.\n"
               "A gateway serving DIR picks up a change made here within a second.\n");
}

/* Reads a whole file of at most max bytes. */
static int
read_file(const char *path, size_t max, struct ecl_buf *out)
{
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        fprintf(stderr, "ecluse: cannot open %s: %s\n", path, strerror(errno));
        return EX_NOINPUT;
    }
    ecl_buf_init(out, max);
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        if (ecl_buf_append(out, chunk, (size_t)n) != ECL_OK) {
            close(fd);
            ecl_buf_free(out);
            fprintf(stderr, "ecluse: %s is larger than %zu bytes\n", path, max);
            return EX_DATAERR;
        }
    }
    close(fd);
    if (n < 0) {
        ecl_buf_free(out);
        fprintf(stderr, "ecluse: cannot read %s: %s\n", path, strerror(errno));
        return EX_IOERR;
    }
    return 0;
}

static void
print_diags(const struct ecl_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        fprintf(stderr, "%s: %s\n", d->items[i].path[0] != 0 ? d->items[i].path : "<document>",
                d->items[i].reason);
    }
    if (d->dropped > 0) {
        fprintf(stderr, "... and %zu more problems\n", d->dropped);
    }
}

/* Parses the policy in buf; prints the problems and returns EX_DATAERR on failure. */
static int
compile(const struct ecl_buf *buf, struct ecl_schema **schemas, size_t n, struct ecl_policy **out)
{
    struct ecl_diags d;
    enum ecl_status st;

    ecl_diags_init(&d);
    st = ecl_policy_parse((const char *)buf->ptr, buf->len,
                          (const struct ecl_schema *const *)schemas, n, &d, out);
    if (st == ECL_ERR_NOMEM) {
        return ecl_cli_fail("policy", st);
    }
    if (st != ECL_OK) {
        print_diags(&d);
        fprintf(stderr, "ecluse: the policy is not valid (%zu problem%s)\n", ecl_diags_count(&d),
                ecl_diags_count(&d) == 1 ? "" : "s");
        return EX_DATAERR;
    }
    return 0;
}

static int
open_ro(struct ecl_cli *cli, struct ecl_store **out)
{
    enum ecl_status st = ecl_store_open(cli->data_dir, ECL_STORE_READONLY, out);

    if (st != ECL_OK) {
        return ecl_cli_fail("cannot open the store", st);
    }
    return 0;
}

static int
cmd_validate(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"schema", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_schema **schemas = NULL;
    size_t n = 0;
    struct ecl_store *store = NULL;
    struct ecl_policy *p = NULL;
    struct ecl_buf buf;
    int from_files = 0;
    int rc = 0;
    int c;

    schemas = calloc(ECL_POLICY_MAX_DATASETS, sizeof *schemas);
    if (schemas == NULL) {
        return ecl_cli_fail("policy validate", ECL_ERR_NOMEM);
    }
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        struct ecl_diags d;
        if (c != 's') {
            rc = EX_USAGE;
            break;
        }
        from_files = 1;
        if (n >= ECL_POLICY_MAX_DATASETS) {
            fprintf(stderr, "ecluse: at most %d schemas\n", ECL_POLICY_MAX_DATASETS);
            rc = EX_USAGE;
            break;
        }
        rc = read_file(optarg, ECL_SCHEMA_MAX_BYTES, &buf);
        if (rc != 0) {
            break;
        }
        ecl_diags_init(&d);
        if (ecl_schema_parse((const char *)buf.ptr, buf.len, &d, &schemas[n]) != ECL_OK) {
            fprintf(stderr, "ecluse: %s is not a valid dataset schema:\n", optarg);
            print_diags(&d);
            rc = EX_DATAERR;
        } else {
            n++;
        }
        ecl_buf_free(&buf);
    }
    if (rc == 0 && optind + 1 != argc) {
        rc = EX_USAGE;
    }
    if (rc == EX_USAGE) {
        policy_usage(stderr);
    }
    if (rc == 0 && !from_files) {
        enum ecl_status st;
        free(schemas);
        schemas = NULL;
        rc = open_ro(cli, &store);
        if (rc == 0) {
            st = ecl_policy_db_schemas(store, &schemas, &n);
            rc = st == ECL_OK ? 0 : ecl_cli_fail("cannot read the datasets", st);
        }
    }
    if (rc == 0) {
        rc = read_file(argv[optind], ECL_POLICY_MAX_BYTES, &buf);
        if (rc == 0) {
            rc = compile(&buf, schemas, n, &p);
            ecl_buf_free(&buf);
        }
    }
    if (rc == 0) {
        char hash[2 * ECL_HASH_LEN + 1];
        ecl_policy_db_hash(p, hash);
        printf("valid: %zu rules checked against %zu datasets; blake2b-256 %s\n",
               ecl_policy_rule_count(p), n, hash);
    }
    ecl_policy_free(p);
    ecl_policy_db_schemas_free(schemas, n);
    ecl_store_close(store);
    return rc;
}

/* A change from the command line to a store whose active policy requires four-eyes approval of
 * policy changes is refused unless the operator overrides it explicitly (without_approval);
 * *overridden tells the audit entry.  0 when the change may go ahead. */
static int
four_eyes_check(struct ecl_store *store, int without_approval, int *overridden)
{
    struct ecl_policy *active = NULL;
    struct ecl_diags d;
    uint64_t version = 0;
    unsigned flags;
    enum ecl_status st;

    *overridden = 0;
    st = ecl_policy_db_active(store, &version);
    if (st == ECL_ERR_NOT_FOUND || (st == ECL_OK && version == 0)) {
        return 0; /* no policy yet: nothing requires approval */
    }
    if (st == ECL_OK) {
        ecl_diags_init(&d);
        st = ecl_policy_db_load(store, 0, &d, &active, NULL);
    }
    if (st == ECL_ERR_INVALID) {
        /* the active version no longer compiles (datasets changed): its settings cannot be
         * read, so the safe reading is that it asked for approval */
        flags = ECL_FOUR_EYES_POLICY;
    } else if (st != ECL_OK) {
        return ecl_cli_fail("cannot read the active policy", st);
    } else {
        flags = ecl_policy_four_eyes(active);
        ecl_policy_free(active);
    }
    if ((flags & ECL_FOUR_EYES_POLICY) == 0) {
        return 0;
    }
    if (!without_approval) {
        fprintf(stderr,
                "ecluse: the active policy (version %llu) requires a second DPO's approval for "
                "policy changes (four_eyes.policy_changes): propose the change through the DPO "
                "API (POST /v1/policy, docs/dpo-guide.md), or pass --without-approval to make "
                "it from the command line anyway (the audit entry records the override)\n",
                (unsigned long long)version);
        return EX_NOPERM;
    }
    *overridden = 1;
    return 0;
}

static int
cmd_set(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"author", required_argument, NULL, 'a'},
        {"without-approval", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *author = NULL;
    int without_approval = 0;
    int overridden = 0;
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_schema **schemas = NULL;
    struct ecl_policy *p = NULL;
    struct ecl_policy_meta meta;
    struct ecl_buf buf;
    size_t n = 0;
    enum ecl_status st;
    int rc;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'w') {
            without_approval = 1;
            continue;
        }
        if (c != 'a') {
            policy_usage(stderr);
            return EX_USAGE;
        }
        author = optarg;
    }
    if (optind + 1 != argc) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    if (author == NULL) {
        struct passwd *pw = getpwuid(geteuid());
        author = pw != NULL ? pw->pw_name : "unknown";
    }
    rc = read_file(argv[optind], ECL_POLICY_MAX_BYTES, &buf);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_open(cli, ECL_STORE_DEFAULT, &kr, &store);
    if (rc == 0) {
        rc = four_eyes_check(store, without_approval, &overridden);
    }
    if (rc == 0) {
        st = ecl_policy_db_schemas(store, &schemas, &n);
        rc = st == ECL_OK ? 0 : ecl_cli_fail("cannot read the datasets", st);
    }
    if (rc == 0) {
        rc = compile(&buf, schemas, n, &p);
    }
    if (rc == 0) {
        st = ecl_policy_db_put(store, p, author, (int64_t)time(NULL), &meta);
        if (st == ECL_ERR_INVALID) {
            fprintf(stderr, "ecluse: the author must be 1 to %d printable bytes\n",
                    ECL_POLICY_AUTHOR_MAX_LEN);
            rc = EX_USAGE;
        } else if (st != ECL_OK) {
            rc = ecl_cli_fail("cannot store the policy", st);
        }
    }
    if (rc == 0) {
        printf("policy version %llu is active (blake2b-256 %s)\n", (unsigned long long)meta.version,
               meta.hash);
        rc = ecl_cli_audit_policy(store, kr, meta.version, meta.hash,
                                  overridden ? "set and activated without four-eyes approval"
                                             : "set and activated");
    }
    ecl_policy_free(p);
    ecl_policy_db_schemas_free(schemas, n);
    ecl_buf_free(&buf);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return rc;
}

static int
parse_version(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s < '1' || *s > '9' || *end != 0 || errno != 0 || v > ECL_POLICY_MAX_VERSIONS) {
        fprintf(stderr, "ecluse: a version is a number from 1 to %d\n", ECL_POLICY_MAX_VERSIONS);
        return EX_USAGE;
    }
    *out = v;
    return 0;
}

static int
cmd_show(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"version", required_argument, NULL, 'v'},
        {"canonical", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_store *store = NULL;
    struct ecl_buf doc;
    uint64_t version = 0;
    int canonical = 0;
    enum ecl_status st = ECL_OK;
    int rc;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'v') {
            rc = parse_version(optarg, &version);
            if (rc != 0) {
                return rc;
            }
        } else if (c == 'c') {
            canonical = 1;
        } else {
            policy_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    rc = open_ro(cli, &store);
    if (rc != 0) {
        return rc;
    }
    ecl_buf_init(&doc, ECL_POLICY_MAX_BYTES);
    if (version == 0) {
        st = ecl_policy_db_active(store, &version);
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_get(store, version, &doc, NULL);
    }
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such policy version\n");
        rc = EX_NOINPUT;
    } else if (st != ECL_OK) {
        rc = ecl_cli_fail("cannot read the policy", st);
    } else if (canonical) {
        fwrite(doc.ptr, 1, doc.len, stdout);
    } else {
        json_t *o = json_loadb((const char *)doc.ptr, doc.len, 0, NULL);
        char *pretty = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (pretty == NULL) {
            rc = ecl_cli_fail("cannot read the policy", ECL_ERR_INTERNAL);
        } else {
            printf("%s\n", pretty);
        }
        free(pretty);
        json_decref(o);
    }
    ecl_buf_free(&doc);
    ecl_store_close(store);
    return rc;
}

struct list_ctx {
    uint64_t active;
};

static enum ecl_status
print_version(const struct ecl_policy_meta *m, void *arg)
{
    const struct list_ctx *lc = arg;
    char when[21];

    if (!ecl_rfc3339_format(m->created, when)) {
        return ECL_ERR_INTERNAL;
    }
    printf("%-8llu %s  %-20s %s%s\n", (unsigned long long)m->version, when, m->author, m->hash,
           m->version == lc->active ? "  active" : "");
    return ECL_OK;
}

static int
cmd_versions(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_store *store = NULL;
    struct list_ctx lc = {0};
    enum ecl_status st;
    int rc;

    (void)argv;
    if (argc != 1) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    rc = open_ro(cli, &store);
    if (rc != 0) {
        return rc;
    }
    st = ecl_policy_db_active(store, &lc.active);
    if (st == ECL_ERR_NOT_FOUND) {
        printf("no policy has been set\n");
    } else if (st == ECL_OK) {
        printf("%-8s %-20s  %-20s %s\n", "version", "created", "author", "blake2b-256");
        st = ecl_policy_db_list(store, print_version, &lc);
    }
    if (st != ECL_OK && st != ECL_ERR_NOT_FOUND) {
        rc = ecl_cli_fail("cannot list the versions", st);
    }
    ecl_store_close(store);
    return rc;
}

static int
cmd_activate(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_diags d;
    uint64_t version = 0;
    enum ecl_status st;
    int without_approval = 0;
    int overridden = 0;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--without-approval") == 0) {
        without_approval = 1;
        argv++;
        argc--;
    } else if (argc == 3 && strcmp(argv[2], "--without-approval") == 0) {
        without_approval = 1;
        argc--;
    }
    if (argc != 2) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    rc = parse_version(argv[1], &version);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_open(cli, ECL_STORE_DEFAULT, &kr, &store);
    if (rc != 0) {
        return rc;
    }
    rc = four_eyes_check(store, without_approval, &overridden);
    if (rc != 0) {
        ecl_store_close(store);
        ecl_keyring_free(kr);
        return rc;
    }
    ecl_diags_init(&d);
    st = ecl_policy_db_activate(store, version, &d);
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such policy version\n");
        rc = EX_NOINPUT;
    } else if (st == ECL_ERR_INVALID) {
        print_diags(&d);
        fprintf(stderr, "ecluse: version %llu no longer validates against the datasets\n",
                (unsigned long long)version);
        rc = EX_DATAERR;
    } else if (st != ECL_OK) {
        rc = ecl_cli_fail("cannot activate the version", st);
    } else {
        struct ecl_policy_meta meta;
        printf("policy version %llu is active\n", (unsigned long long)version);
        st = ecl_policy_db_get(store, version, NULL, &meta);
        rc =
            ecl_cli_audit_policy(store, kr, version, st == ECL_OK ? meta.hash : NULL,
                                 overridden ? "activated without four-eyes approval" : "activated");
    }
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return rc;
}

static int
cmd_explain(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_store *store = NULL;
    struct ecl_policy *p = NULL;
    struct ecl_diags d;
    json_t *out = NULL;
    enum ecl_status st;
    int rc;

    if (argc != 2 && argc != 3) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    rc = open_ro(cli, &store);
    if (rc != 0) {
        return rc;
    }
    ecl_diags_init(&d);
    st = ecl_policy_db_load(store, 0, &d, &p, NULL);
    if (st == ECL_OK) {
        st = ecl_policy_explain(p, argv[1], argc == 3 ? argv[2] : NULL, &out);
        if (st == ECL_ERR_NOT_FOUND) {
            fprintf(stderr, "ecluse: no such agent, or the agent may not invoke that purpose\n");
            rc = EX_NOINPUT;
        }
    } else if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no policy has been set\n");
        rc = EX_NOINPUT;
    } else if (st == ECL_ERR_INVALID) {
        print_diags(&d);
        rc = EX_DATAERR;
    }
    if (rc == 0 && st != ECL_OK) {
        rc = ecl_cli_fail("explain", st);
    }
    if (rc == 0) {
        char *text = json_dumps(out, JSON_INDENT(2));
        if (text == NULL) {
            rc = ecl_cli_fail("explain", ECL_ERR_NOMEM);
        } else {
            printf("%s\n", text);
        }
        free(text);
    }
    json_decref(out);
    ecl_policy_free(p);
    ecl_store_close(store);
    return rc;
}

int
ecl_cmd_policy(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct ecl_cli *, int, char **);
    } subs[] = {
        {"validate", cmd_validate}, {"set", cmd_set},           {"show", cmd_show},
        {"versions", cmd_versions}, {"activate", cmd_activate}, {"explain", cmd_explain},
    };

    if (ecl_cli_wants_help(argc, argv)) {
        policy_usage(stdout);
        return EX_OK;
    }
    if (argc < 2) {
        policy_usage(stderr);
        return EX_USAGE;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(subs[i].name, argv[1]) == 0) {
            return subs[i].fn(cli, argc - 1, argv + 1);
        }
    }
    policy_usage(stderr);
    return EX_USAGE;
}
