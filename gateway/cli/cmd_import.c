/* ecluse import: JSON Lines or CSV into a dataset, all or nothing. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/audit.h"
#include "records_cli.h"

static void
import_usage(FILE *f)
{
    fprintf(f,
            "usage: ecluse [--data DIR] import --dataset NAME [--format jsonl|csv] FILE\n"
            "\n"
            "Validates every record of FILE (\"-\" for standard input) against the dataset's\n"
            "schema and stores them encrypted, in one transaction: on the first error nothing\n"
            "is imported, and the message names the line, the field and the reason (never the\n"
            "value); exit 65. A subject that already exists is updated.\n"
            "\n"
            "  --dataset NAME   the dataset (see `ecluse dataset list`)\n"
            "  --format FORMAT  jsonl (one JSON object per line) or csv (RFC 4180 with a header\n"
            "                   row); default: csv when FILE ends in .csv, else jsonl\n"
            "\n"
            "A record is at most %d bytes. See docs/datasets.md.\n",
            ECL_RECORD_MAX_BYTES);
}

int
ecl_cmd_import(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_cli_records h;
    struct ecl_import_result res;
    const char *dataset = NULL;
    const char *format = NULL;
    enum ecl_import_format fmt = ECL_IMPORT_JSONL;
    size_t n;
    int c;
    int rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dataset = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            import_usage(stdout);
            return EX_OK;
        default:
            import_usage(stderr);
            return EX_USAGE;
        }
    }
    if (dataset == NULL || optind != argc - 1) {
        import_usage(stderr);
        return EX_USAGE;
    }
    n = strlen(argv[optind]);
    if (format == NULL) {
        fmt =
            n >= 4 && strcmp(argv[optind] + n - 4, ".csv") == 0 ? ECL_IMPORT_CSV : ECL_IMPORT_JSONL;
    } else if (strcmp(format, "csv") == 0) {
        fmt = ECL_IMPORT_CSV;
    } else if (strcmp(format, "jsonl") != 0) {
        fprintf(stderr, "ecluse: import: --format is jsonl or csv\n");
        return EX_USAGE;
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_import_file(h.rec, dataset, argv[optind], fmt, &res);
    if (rc == 0) {
        rc = ecl_cli_audit_import(h.store, h.kr, dataset, &res);
    }
    ecl_cli_records_close(&h);
    return rc;
}
