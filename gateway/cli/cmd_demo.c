/* ecluse demo-data and ecluse demo: the synthetic population and a prepared demo directory. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "assets.h"
#include "audit/audit.h"
#include "cli.h"
#include "records_cli.h"

static void
demo_data_usage(FILE *f)
{
    fprintf(f, "usage: ecluse demo-data [--seed N] [--size N] --out DIR\n"
               "\n"
               "Writes DIR/citizens.jsonl and DIR/benefits.jsonl: a synthetic French population\n"
               "of N people (default 10000) in households, with valid NIR and IBAN check digits\n"
               "and real communes. The same seed (default 1) always gives the same bytes. The\n"
               "files follow demo/citizens.schema.json and demo/benefits.schema.json\n"
               "(`ecluse dataset show citizens` once the demo is prepared).\n");
}

static void
demo_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] demo [--seed N] [--size N] [--listen ADDR:PORT]\n"
               "                                [--threads N] [--prepare-only]\n"
               "\n"
               "Prepares a demo data directory (default ./demo-data unless --data or\n"
               "$ECLUSE_DATA is given): creates it with `init` when missing, creates the\n"
               "citizens and benefits datasets and imports a generated population of N people\n"
               "(default 10000, seed 1) through the same path as `ecluse import` (audited as\n"
               "records.import). A directory that is already prepared is left as it is.\n"
               "Then, unless --prepare-only (which stores no policy), it stores the demo\n"
               "policy (demo/policy.json) when no policy is active (audited as policy.change),\n"
               "creates fresh demo keys (revoking the previous ones), prints them with example\n"
               "requests, and serves on ADDR:PORT (default 127.0.0.1:8443) until Ctrl-C.\n");
}

static int
parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s == 0 || *s == '-' || *end != 0 || errno != 0 || v > max) {
        fprintf(stderr, "ecluse: %s takes a number from 0 to %llu\n", opt, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses --seed, --size and (when out_dir is not NULL) --out. */
static int
demo_opts(int argc, char **argv, uint64_t *seed, uint64_t *size, const char **out_dir,
          void (*usage)(FILE *))
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64("--seed", optarg, UINT64_MAX, seed) != 0) {
                return EX_USAGE;
            }
            break;
        case 'n':
            if (parse_u64("--size", optarg, ECL_DEMO_MAX_SIZE, size) != 0 || *size == 0) {
                fprintf(stderr, "ecluse: --size is at least 1\n");
                return EX_USAGE;
            }
            break;
        case 'o':
            if (out_dir == NULL) {
                usage(stderr);
                return EX_USAGE;
            }
            *out_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc || (out_dir != NULL && *out_dir == NULL)) {
        usage(stderr);
        return EX_USAGE;
    }
    return 0;
}

static FILE *
open_out(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        return NULL;
    }
    f = fopen(path, "wx");
    if (f == NULL) {
        fprintf(stderr, "ecluse: cannot create %s: %s\n", path, strerror(errno));
    }
    return f;
}

int
ecl_cmd_demo_data(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_demo_stats stats;
    uint64_t seed = 1;
    uint64_t size = 10000;
    const char *out = NULL;
    FILE *c = NULL;
    FILE *b = NULL;
    enum ecl_status st;
    int rc;

    (void)cli;
    rc = demo_opts(argc, argv, &seed, &size, &out, demo_data_usage);
    if (rc != 0) {
        return rc < 0 ? EX_OK : rc;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ecluse: cannot create %s: %s\n", out, strerror(errno));
        return EX_CANTCREAT;
    }
    c = open_out(out, "citizens.jsonl");
    b = c != NULL ? open_out(out, "benefits.jsonl") : NULL;
    if (c == NULL || b == NULL) {
        if (c != NULL) {
            fclose(c);
        }
        return EX_CANTCREAT;
    }
    st = ecl_demo_generate(seed, size, c, b, &stats);
    if (fclose(c) != 0 || fclose(b) != 0) {
        st = ECL_ERR_IO;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("demo-data", st);
    }
    printf("wrote %llu people in %llu households to %s/citizens.jsonl and %s/benefits.jsonl "
           "(seed %llu)\n",
           (unsigned long long)stats.people, (unsigned long long)stats.households, out, out,
           (unsigned long long)seed);
    return EX_OK;
}

/* Creates a demo dataset unless it exists; *count is its number of records. */
static int
ensure_dataset(struct ecl_cli_records *h, const char *name, const char *schema, size_t len,
               uint64_t *count)
{
    const struct ecl_schema *s = NULL;
    struct ecl_diags diags;
    enum ecl_status st = ecl_records_dataset_get(h->rec, name, &s);

    if (st == ECL_ERR_NOT_FOUND) {
        ecl_diags_init(&diags);
        st = ecl_records_dataset_create(h->rec, schema, len, &diags, &s);
        if (st == ECL_OK) {
            printf("created dataset %s\n", name);
        }
    }
    if (st == ECL_OK) {
        st = ecl_records_count(h->rec, name, count);
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot create the demo datasets", st);
    }
    return 0;
}

/* Imports the generated population like `ecluse import` does, with its records.import entry. */
static int
import_audited(struct ecl_cli_records *h, const char *dataset, const char *label, FILE *f)
{
    struct ecl_import_result res;
    int rc = ecl_cli_import_stream_result(h->rec, dataset, label, f, ECL_IMPORT_JSONL, &res);

    if (rc != EX_OK) {
        return rc;
    }
    return ecl_cli_audit_import(h->store, h->kr, dataset, &res);
}

int
ecl_demo_prepare(struct ecl_cli *cli, uint64_t seed, uint64_t size, int *out_prepared_now)
{
    struct ecl_cli_records h;
    struct ecl_demo_stats stats;
    uint64_t nc = 0;
    uint64_t nb = 0;
    FILE *c = NULL;
    FILE *b = NULL;
    enum ecl_status st;
    int rc;

    if (access(cli->data_dir, F_OK) != 0) {
        char *init_argv[] = {(char *)"init", NULL};
        rc = ecl_cmd_init(cli, 1, init_argv);
        if (rc != EX_OK) {
            return rc;
        }
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
    if (rc != 0) {
        return rc;
    }
    rc = ensure_dataset(&h, "citizens", ecl_asset_citizens_schema, ecl_asset_citizens_schema_len,
                        &nc);
    if (rc == 0) {
        rc = ensure_dataset(&h, "benefits", ecl_asset_benefits_schema,
                            ecl_asset_benefits_schema_len, &nb);
    }
    if (rc == 0 && nc > 0 && nb > 0) {
        printf("%s is already prepared: citizens %llu records, benefits %llu records\n",
               cli->data_dir, (unsigned long long)nc, (unsigned long long)nb);
        ecl_cli_records_close(&h);
        *out_prepared_now = 0;
        return EX_OK;
    }
    if (rc != 0) {
        ecl_cli_records_close(&h);
        return rc;
    }
    /* unlinked temporary files outside the data directory: no plaintext file is ever left */
    c = tmpfile();
    b = tmpfile();
    if (c == NULL || b == NULL) {
        fprintf(stderr, "ecluse: cannot create temporary files: %s\n", strerror(errno));
        rc = EX_CANTCREAT;
        goto out;
    }
    st = ecl_demo_generate(seed, size, c, b, &stats);
    if (st == ECL_OK && (fflush(c) != 0 || fflush(b) != 0)) {
        st = ECL_ERR_IO;
    }
    if (st != ECL_OK) {
        rc = ecl_cli_fail("cannot generate the demo population", st);
        goto out;
    }
    rewind(c);
    rewind(b);
    printf("generated %llu people in %llu households (seed %llu)\n",
           (unsigned long long)stats.people, (unsigned long long)stats.households,
           (unsigned long long)seed);
    rc = nc == 0 ? import_audited(&h, "citizens", "generated citizens", c) : EX_OK;
    if (rc == EX_OK && nb == 0) {
        rc = import_audited(&h, "benefits", "generated benefits", b);
    }
    if (rc == EX_OK) {
        printf("demo data ready in %s\n", cli->data_dir);
        *out_prepared_now = 1;
    }
out:
    if (c != NULL) {
        fclose(c);
    }
    if (b != NULL) {
        fclose(b);
    }
    ecl_cli_records_close(&h);
    return rc;
}

int
ecl_cmd_demo(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'n'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"prepare-only", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t seed = 1;
    uint64_t size = 10000;
    uint64_t threads = 0;
    const char *listen = "127.0.0.1:8443";
    const char *env = getenv("ECLUSE_DATA");
    int prepare_only = 0;
    int now = 0;
    int rc;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64("--seed", optarg, UINT64_MAX, &seed) != 0) {
                return EX_USAGE;
            }
            break;
        case 'n':
            if (parse_u64("--size", optarg, ECL_DEMO_MAX_SIZE, &size) != 0 || size == 0) {
                fprintf(stderr, "ecluse: --size is at least 1\n");
                return EX_USAGE;
            }
            break;
        case 'l':
            listen = optarg;
            break;
        case 't':
            if (parse_u64("--threads", optarg, ECL_HTTP_MAX_THREADS, &threads) != 0) {
                return EX_USAGE;
            }
            break;
        case 'p':
            prepare_only = 1;
            break;
        case 'h':
            demo_usage(stdout);
            return EX_OK;
        default:
            demo_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        demo_usage(stderr);
        return EX_USAGE;
    }
    /* the demo has its own default directory, so that it never touches ./ecluse-data */
    if ((env == NULL || *env == 0) && strcmp(cli->data_dir, "./ecluse-data") == 0) {
        cli->data_dir = "./demo-data";
    }
    rc = ecl_demo_prepare(cli, seed, size, &now);
    if (rc != EX_OK || prepare_only) {
        return rc;
    }
    rc = ecl_demo_ensure_policy(cli);
    if (rc != EX_OK) {
        return rc;
    }
    return ecl_demo_serve(cli, seed, listen, (unsigned)threads);
}
