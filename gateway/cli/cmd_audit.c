/* ecluse audit: verify, checkpoint, leaves, show, list (docs/audit-format.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli.h"

static void
audit_usage(FILE *f)
{
    fprintf(
        f,
        "usage: ecluse [--data DIR] audit verify [--public-only] [--trusted-checkpoint FILE]\n"
        "       ecluse [--data DIR] audit checkpoint\n"
        "       ecluse [--data DIR] audit leaves --start S --end E\n"
        "       ecluse [--data DIR] audit show SEQ\n"
        "       ecluse [--data DIR] audit list [--principal ID] [--subject ID] [--purpose P]\n"
        "                 [--dataset D] [--kind K] [--decision allow|deny|none]\n"
        "                 [--since MS] [--until MS] [--cursor SEQ] [--limit N]\n"
        "\n"
        "verify      checks the whole log offline, on the data directory or a copy of it,\n"
        "            opened read-only: every leaf hash, the tree and every stored checkpoint\n"
        "            (signature, root at its size), sequence continuity, time order and the\n"
        "            blind-index rows, with the audit public key only.  With the master key\n"
        "            (unless --public-only) also decrypts every entry and rebuilds its index\n"
        "            tokens.  --trusted-checkpoint FILE proves that the log is an append-only\n"
        "            extension of a checkpoint saved earlier (catches truncation and\n"
        "            roll-back).  Exit 0 only when everything verifies, else 65 with the report.\n"
        "checkpoint  prints the latest signed checkpoint (C2SP signed note).\n"
        "leaves      prints the raw stored entries S..E-1 (at most %d), one base64 line each,\n"
        "            for independent verifiers.  Needs no key.\n"
        "show        decrypts and prints one entry (needs the master key).\n"
        "list        decrypts and prints matching entries, one JSON object per line; the\n"
        "            next page's cursor goes to stderr.  Times are milliseconds since the epoch.\n",
        ECL_AUDIT_LEAVES_PER_CALL);
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || *s == 0 || *s == '-') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != 0) {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int
read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0) {
        fprintf(stderr, "ecluse: cannot open %s: %s\n", path, strerror(errno));
        return EX_NOINPUT;
    }
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            close(fd);
            fprintf(stderr, "ecluse: cannot read %s\n", path);
            return EX_IOERR;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
        if (got == cap) {
            close(fd);
            fprintf(stderr, "ecluse: %s is larger than a checkpoint can be\n", path);
            return EX_DATAERR;
        }
    }
    close(fd);
    *len = got;
    return 0;
}

static int
cmd_verify(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"public-only", no_argument, NULL, 'p'},
        {"trusted-checkpoint", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char trusted[ECL_NOTE_MAX_BYTES + 1];
    const char *trusted_path = NULL;
    size_t trusted_len = 0;
    int public_only = 0;
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_buf report;
    size_t nfail = 0;
    enum ecl_status st;
    int rc = EX_OK;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            public_only = 1;
            break;
        case 't':
            trusted_path = optarg;
            break;
        case 'h':
            audit_usage(stdout);
            return EX_OK;
        default:
            audit_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        audit_usage(stderr);
        return EX_USAGE;
    }
    if (trusted_path != NULL) {
        rc = read_small_file(trusted_path, trusted, sizeof trusted, &trusted_len);
        if (rc != 0) {
            return rc;
        }
    }
    st = ECL_ERR_NOT_FOUND;
    if (!public_only) {
        st = ecl_keyring_load(cli->data_dir, cli->have_key_src ? &cli->key_src : NULL, &kr);
        if (st != ECL_OK && st != ECL_ERR_NOT_FOUND) {
            return ecl_status_exit_code(st);
        }
        if (st == ECL_ERR_NOT_FOUND) {
            fprintf(stderr, "ecluse: no master key: public-key verification only\n");
        }
    }
    if (st != ECL_OK) {
        st = ecl_keyring_load_public(cli->data_dir, &kr);
        if (st != ECL_OK) {
            return ecl_status_exit_code(st);
        }
    }
    st = ecl_store_open(cli->data_dir, ECL_STORE_READONLY, &store);
    if (st != ECL_OK) {
        ecl_keyring_free(kr);
        return ecl_cli_fail("cannot open the store read-only", st);
    }
    ecl_buf_init(&report, 1 << 20);
    st = ecl_audit_verify(
        store, kr, ecl_keyring_has_secrets(kr) ? ECL_AUDIT_VERIFY_DECRYPT : ECL_AUDIT_VERIFY_PUBLIC,
        trusted_path != NULL ? trusted : NULL, trusted_len, &report, &nfail);
    if (st != ECL_OK) {
        rc = ecl_cli_fail("audit verify could not run", st);
    } else {
        fwrite(report.ptr, 1, report.len, stdout);
        rc = nfail == 0 ? EX_OK : EX_DATAERR;
    }
    ecl_buf_free(&report);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return rc;
}

static int
cmd_checkpoint(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_store *store = NULL;
    struct ecl_buf note;
    enum ecl_status st;

    (void)argv;
    if (argc != 1) {
        audit_usage(stderr);
        return EX_USAGE;
    }
    st = ecl_store_open(cli->data_dir, ECL_STORE_READONLY, &store);
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot open the store read-only", st);
    }
    ecl_buf_init(&note, ECL_NOTE_MAX_BYTES);
    st = ecl_audit_checkpoint_latest(store, &note);
    if (st == ECL_OK) {
        fwrite(note.ptr, 1, note.len, stdout);
    }
    ecl_buf_free(&note);
    ecl_store_close(store);
    return st == ECL_OK ? EX_OK : ecl_cli_fail("no checkpoint", st);
}

static enum ecl_status
print_leaf(void *arg, uint64_t seq, const uint8_t *leaf, size_t len)
{
    struct ecl_buf *b = arg;
    const char *s = NULL;

    (void)seq;
    ecl_buf_reset(b);
    ECL_GUARD(ecl_crypto_b64_encode(leaf, len, b));
    ECL_GUARD(ecl_buf_cstr(b, &s));
    puts(s);
    return ECL_OK;
}

static int
cmd_leaves(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"start", required_argument, NULL, 's'},
        {"end", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t start = 0;
    uint64_t end = 0;
    int have_s = 0;
    int have_e = 0;
    struct ecl_store *store = NULL;
    struct ecl_buf line;
    enum ecl_status st;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            have_s = parse_u64(optarg, &start) == 0;
            break;
        case 'e':
            have_e = parse_u64(optarg, &end) == 0;
            break;
        case 'h':
            audit_usage(stdout);
            return EX_OK;
        default:
            audit_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc || !have_s || !have_e || end < start ||
        end - start > ECL_AUDIT_LEAVES_PER_CALL) {
        fprintf(stderr, "ecluse: audit leaves needs --start S --end E with S <= E <= S + %d\n",
                ECL_AUDIT_LEAVES_PER_CALL);
        return EX_USAGE;
    }
    st = ecl_store_open(cli->data_dir, ECL_STORE_READONLY, &store);
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot open the store read-only", st);
    }
    ecl_buf_init(&line, 2 * ECL_AUDIT_ENTRY_MAX_BYTES);
    st = ecl_audit_leaves(store, start, end, print_leaf, &line);
    ecl_buf_free(&line);
    ecl_store_close(store);
    return st == ECL_OK ? EX_OK : ecl_cli_fail("audit leaves (range beyond the log?)", st);
}

static int
print_json(json_t *j, size_t flags)
{
    char *s = json_dumps(j, flags);

    if (s == NULL) {
        return -1;
    }
    puts(s);
    ecl_wipe(s, strlen(s));
    free(s);
    return 0;
}

static int
cmd_show(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_audit_entry e;
    uint64_t seq = 0;
    enum ecl_status st;
    json_t *j;
    int rc;

    if (argc != 2 || parse_u64(argv[1], &seq) != 0) {
        audit_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_open(cli, ECL_STORE_READONLY, &kr, &store);
    if (rc != 0) {
        return rc;
    }
    st = ecl_audit_entry_get(store, kr, seq, &e);
    if (st == ECL_OK) {
        j = ecl_audit_entry_to_json(&e);
        if (j == NULL || print_json(j, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
            st = ECL_ERR_NOMEM;
        }
        json_decref(j);
        ecl_audit_entry_free(&e);
    }
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return st == ECL_OK ? EX_OK : ecl_cli_fail("audit show", st);
}

static int
cmd_list(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"principal", required_argument, NULL, 'P'},
        {"subject", required_argument, NULL, 'S'},
        {"purpose", required_argument, NULL, 'p'},
        {"dataset", required_argument, NULL, 'd'},
        {"kind", required_argument, NULL, 'k'},
        {"decision", required_argument, NULL, 'D'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"cursor", required_argument, NULL, 'c'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_audit_filter f;
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    uint64_t cursor = 0;
    uint64_t limit = 100;
    uint64_t next = 0;
    json_t *items = NULL;
    enum ecl_status st;
    int bad = 0;
    int rc;
    int c;

    memset(&f, 0, sizeof f);
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            f.principal = optarg;
            break;
        case 'S':
            f.subject = optarg;
            break;
        case 'p':
            f.purpose = optarg;
            break;
        case 'd':
            f.dataset = optarg;
            break;
        case 'k':
            f.kind = optarg;
            break;
        case 'D':
            f.decision = optarg;
            break;
        case 's':
            bad |= parse_u64(optarg, &f.since_ms);
            break;
        case 'u':
            bad |= parse_u64(optarg, &f.until_ms);
            break;
        case 'c':
            bad |= parse_u64(optarg, &cursor);
            break;
        case 'l':
            bad |= parse_u64(optarg, &limit);
            break;
        case 'h':
            audit_usage(stdout);
            return EX_OK;
        default:
            audit_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc || bad != 0 || limit == 0 || limit > ECL_AUDIT_LIST_MAX) {
        fprintf(stderr, "ecluse: audit list: numbers must be decimal, --limit 1..%d\n",
                ECL_AUDIT_LIST_MAX);
        return EX_USAGE;
    }
    rc = ecl_cli_open(cli, ECL_STORE_READONLY, &kr, &store);
    if (rc != 0) {
        return rc;
    }
    items = json_array();
    st = items == NULL ? ECL_ERR_NOMEM
                       : ecl_audit_list(store, kr, &f, cursor, (size_t)limit, items, &next);
    if (st == ECL_OK) {
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
        {
            if (print_json(v, JSON_COMPACT | JSON_SORT_KEYS) != 0) {
                st = ECL_ERR_NOMEM;
                break;
            }
        }
        if (next == UINT64_MAX) {
            fprintf(stderr, "end of log\n");
        } else {
            fprintf(stderr, "next cursor: %" PRIu64 "\n", next);
        }
    }
    json_decref(items);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return st == ECL_OK ? EX_OK : ecl_cli_fail("audit list", st);
}

int
ecl_cmd_audit(struct ecl_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        audit_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EX_USAGE : EX_OK;
    }
    if (strcmp(argv[1], "verify") == 0) {
        return cmd_verify(cli, argc - 1, argv + 1);
    }
    if (ecl_cli_wants_help(argc, argv)) {
        audit_usage(stdout);
        return EX_OK;
    }
    if (strcmp(argv[1], "checkpoint") == 0) {
        return cmd_checkpoint(cli, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "leaves") == 0) {
        return cmd_leaves(cli, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "show") == 0) {
        return cmd_show(cli, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "list") == 0) {
        return cmd_list(cli, argc - 1, argv + 1);
    }
    audit_usage(stderr);
    return EX_USAGE;
}
