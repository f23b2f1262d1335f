/* Streaming import of JSON Lines and CSV files into one dataset, in one write transaction.
 * Memory is bounded by one record (ECL_RECORD_MAX_BYTES) whatever the size of the file. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "records.h"

enum { READ_CHUNK = 64 << 10 };
_Static_assert(sizeof(json_int_t) == sizeof(long long), "jansson uses long long integers");

/* A byte reader with one byte of look-ahead and a count of bytes read. */
struct rd {
    FILE *f;
    uint8_t buf[READ_CHUNK];
    size_t pos;
    size_t len;
    int eof;
    int err;
    uint64_t bytes;
};

static int
rd_peek(struct rd *r)
{
    if (r->pos == r->len) {
        if (r->eof) {
            return EOF;
        }
        r->len = fread(r->buf, 1, sizeof r->buf, r->f);
        r->pos = 0;
        if (r->len == 0) {
            r->eof = 1;
            r->err = ferror(r->f);
            return EOF;
        }
    }
    return r->buf[r->pos];
}

static int
rd_get(struct rd *r)
{
    int c = rd_peek(r);

    if (c != EOF) {
        r->pos++;
        r->bytes++;
    }
    return c;
}

struct import {
    struct ecl_records *r;
    const struct ecl_schema *schema;
    struct ecl_records_batch *batch;
    struct rd *rd;
    struct ecl_buf rec; /* the current record's bytes */
    struct ecl_import_error *err;
    struct ecl_import_result res;
    ecl_import_progress_fn progress;
    void *progress_ctx;
    uint64_t line; /* physical line being read */
};

static enum ecl_status
fail(struct import *im, uint64_t line, const char *field, const char *reason, enum ecl_status st)
{
    im->err->line = line;
    snprintf(im->err->field, sizeof im->err->field, "%s", field != NULL ? field : "");
    im->err->reason = reason;
    return st;
}

/* An input key that is not a field: named only when it looks like a field name (a key could
 * hold personal data). */
static void
unknown_field(const char *k, size_t n, struct ecl_import_error *err)
{
    if (ecl_name_ok(k, n)) {
        memcpy(err->field, k, n);
        err->field[n] = 0;
        err->reason = "unknown field (not in the dataset's schema)";
    } else {
        err->field[0] = 0;
        err->reason = "unknown field (its name is not shown: it is not a valid field name)";
    }
}

enum ecl_status
ecl_records_validate(const struct ecl_schema *schema, const json_t *record,
                     struct ecl_import_error *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(record)) {
        err->field[0] = 0;
        err->reason = "a record must be a JSON object";
        return ECL_ERR_INVALID;
    }
    json_object_foreach((json_t *)record, k, v)
    {
        if (ecl_schema_field(schema, k) == NULL) {
            unknown_field(k, strlen(k), err);
            return ECL_ERR_INVALID;
        }
    }
    for (size_t i = 0; i < schema->nfields; i++) {
        const struct ecl_field *f = &schema->fields[i];
        const char *why = NULL;
        enum ecl_status st = ecl_schema_check_value(f, json_object_get(record, f->name), &why);
        if (st != ECL_OK) {
            snprintf(err->field, sizeof err->field, "%s", f->name);
            err->reason = why;
            return st;
        }
    }
    return ECL_OK;
}

/* Validates and stores one record that starts on line. */
static enum ecl_status
put_record(struct import *im, const json_t *rec, uint64_t line)
{
    const char *subject = im->schema->fields[im->schema->subject_field].name;
    uint64_t first = 0;
    enum ecl_status st;

    st = ecl_records_validate(im->schema, rec, im->err);
    if (st != ECL_OK) {
        im->err->line = line;
        return st;
    }
    st = ecl_records_batch_put(im->batch, rec, line, &first);
    switch (st) {
    case ECL_OK:
        break;
    case ECL_ERR_CONFLICT:
        im->err->other_line = first;
        return fail(im, line, subject, "the same subject appears twice in this file", st);
    case ECL_ERR_INVALID:
        return fail(im, line, subject, "the subject identifier is empty once normalised", st);
    case ECL_ERR_LIMIT:
        return fail(im, line, subject, "the subject identifier is too long", st);
    case ECL_ERR_CRYPTO:
        return fail(im, line, NULL, "the stored record of this subject does not authenticate", st);
    case ECL_ERR_FULL:
        return fail(im, line, NULL, "the store is full", st);
    case ECL_ERR_NOMEM:
    case ECL_ERR_NOT_FOUND:
    case ECL_ERR_EXISTS:
    case ECL_ERR_IO:
    case ECL_ERR_PERM:
    case ECL_ERR_SEALED:
    case ECL_ERR_DENIED:
    case ECL_ERR_INTERNAL:
        return fail(im, line, NULL, "the record could not be stored", st);
    }
    im->res.records++;
    if (im->progress != NULL && im->res.records % ECL_IMPORT_PROGRESS_EVERY == 0) {
        im->progress(im->progress_ctx, im->res.records, im->rd->bytes);
    }
    return ECL_OK;
}

/* ---- JSON Lines ---------------------------------------------------------------------------- */

static int
blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

static enum ecl_status
import_jsonl(struct import *im)
{
    for (;;) {
        const char *why = NULL;
        json_t *rec;
        enum ecl_status st;
        int c = 0;

        ecl_buf_reset(&im->rec);
        im->line++;
        while ((c = rd_get(im->rd)) != EOF && c != '\n') {
            if (ecl_buf_append_byte(&im->rec, (uint8_t)c) != ECL_OK) {
                /* refused at once: a huge line is never read, let alone held */
                return fail(im, im->line, NULL, "the line is longer than the record limit",
                            ECL_ERR_LIMIT);
            }
        }
        if (im->rd->err) {
            return fail(im, im->line, NULL, "the file cannot be read", ECL_ERR_IO);
        }
        if (c == EOF && im->rec.len == 0) {
            return ECL_OK;
        }
        if (blank(im->rec.ptr, im->rec.len)) {
            continue;
        }
        /* records are flat objects: depth 2 still parses a nested value so that the schema
         * check can say which field is wrong */
        rec = ecl_json_load((const char *)im->rec.ptr, im->rec.len, 2, &why, NULL);
        if (rec == NULL) {
            return fail(im, im->line, NULL, why, ECL_ERR_INVALID);
        }
        st = put_record(im, rec, im->line);
        json_decref(rec);
        if (st != ECL_OK) {
            return st;
        }
    }
}

/* ---- CSV (RFC 4180) ------------------------------------------------------------------------ */

struct csv_row {
    size_t n;
    size_t start[ECL_SCHEMA_MAX_FIELDS + 1];
    size_t len[ECL_SCHEMA_MAX_FIELDS + 1];
};

/* Reads one record into im->rec (values back to back) and row.  *end is 1 at end of file
 * before any byte of a record.  *first_line is the line the record starts on. */
static enum ecl_status
csv_read(struct import *im, struct csv_row *row, uint64_t *first_line, int *end)
{
    struct rd *rd = im->rd;
    int c;

    ecl_buf_reset(&im->rec);
    row->n = 0;
    im->line++;
    *first_line = im->line;
    *end = 0;
    if (rd_peek(rd) == EOF) {
        *end = 1;
        return rd->err ? fail(im, im->line, NULL, "the file cannot be read", ECL_ERR_IO) : ECL_OK;
    }
    for (;;) {
        size_t start = im->rec.len;
        int quoted = rd_peek(rd) == '"';

        if (row->n >= ECL_SCHEMA_MAX_FIELDS + 1) {
            return fail(im, *first_line, NULL, "the row has more values than the header",
                        ECL_ERR_INVALID);
        }
        if (quoted) {
            rd_get(rd);
            for (;;) {
                c = rd_get(rd);
                if (c == EOF) {
                    return fail(im, *first_line, NULL,
                                "unbalanced quotes: a quoted value is not closed", ECL_ERR_INVALID);
                }
                if (c == '"') {
                    if (rd_peek(rd) != '"') {
                        break;
                    }
                    rd_get(rd);
                } else if (c == '\n') {
                    im->line++;
                }
                if (ecl_buf_append_byte(&im->rec, (uint8_t)c) != ECL_OK) {
                    return fail(im, *first_line, NULL, "the row is longer than the record limit",
                                ECL_ERR_LIMIT);
                }
            }
            c = rd_get(rd);
            if (c == '\r' && rd_peek(rd) == '\n') {
                c = rd_get(rd);
            }
            if (c != ',' && c != '\n' && c != EOF) {
                return fail(im, im->line, NULL, "unexpected characters after a closing quote",
                            ECL_ERR_INVALID);
            }
        } else {
            for (;;) {
                c = rd_get(rd);
                if (c == '\r' && rd_peek(rd) == '\n') {
                    c = rd_get(rd);
                }
                if (c == ',' || c == '\n' || c == EOF) {
                    break;
                }
                if (c == '"') {
                    return fail(im, im->line, NULL,
                                "a quote inside an unquoted value (quote the whole value and "
                                "double the quote)",
                                ECL_ERR_INVALID);
                }
                if (ecl_buf_append_byte(&im->rec, (uint8_t)c) != ECL_OK) {
                    return fail(im, *first_line, NULL, "the row is longer than the record limit",
                                ECL_ERR_LIMIT);
                }
            }
        }
        row->start[row->n] = start;
        row->len[row->n] = im->rec.len - start;
        row->n++;
        if (c != ',') {
            break;
        }
    }
    if (rd->err) {
        return fail(im, im->line, NULL, "the file cannot be read", ECL_ERR_IO);
    }
    return ECL_OK;
}

/* The text of value i of the row just read.  A row whose values are all empty has put nothing in
 * im->rec, whose pointer is then still NULL: offsetting it would be undefined behaviour. */
static const char *
csv_cell(const struct import *im, const struct csv_row *row, size_t i)
{
    return im->rec.ptr != NULL ? (const char *)im->rec.ptr + row->start[i] : "";
}

/* Strict integer: optional '-', digits, within json_int_t. */
static int
parse_integer(const char *s, size_t n, json_int_t *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    unsigned long long lim = (unsigned long long)LLONG_MAX;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
        lim += 1;
    }
    if (i == n) {
        return 0;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == lim ? LLONG_MIN : -(json_int_t)v;
    } else {
        *out = (json_int_t)v;
    }
    return 1;
}

/* Strict JSON number grammar (RFC 8259 section 6), then strtod. */
static int
parse_number(const char *s, size_t n, double *out)
{
    char tmp[64];
    char *end = NULL;
    size_t i = 0;

    if (n == 0 || n >= sizeof tmp) {
        return 0;
    }
    if (s[i] == '-') {
        i++;
    }
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == d) {
            return 0;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == d) {
            return 0;
        }
    }
    if (i != n) {
        return 0;
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    *out = strtod(tmp, &end);
    return errno == 0 && end == tmp + n;
}

/* Converts one CSV value to the JSON value of its field's type.  NULL with *why on error. */
static json_t *
csv_value(const struct ecl_field *f, const char *s, size_t n, const char **why)
{
    json_int_t i;
    double d;
    json_t *v = NULL;

    if (n == 0) {
        return json_null();
    }
    if (memchr(s, 0, n) != NULL) {
        *why = "the value contains a NUL byte";
        return NULL;
    }
    switch (f->type) {
    case ECL_FT_STRING:
    case ECL_FT_DATE:
    case ECL_FT_ENUM:
        v = json_stringn(s, n);
        *why = "the value is not valid UTF-8";
        break;
    case ECL_FT_INTEGER:
        v = parse_integer(s, n, &i) ? json_integer(i) : NULL;
        *why = "expected an integer";
        break;
    case ECL_FT_NUMBER:
        v = parse_number(s, n, &d) ? json_real(d) : NULL;
        *why = "expected a number";
        break;
    case ECL_FT_BOOLEAN:
        if (n == 4 && memcmp(s, "true", 4) == 0) {
            v = json_true();
        } else if (n == 5 && memcmp(s, "false", 5) == 0) {
            v = json_false();
        }
        *why = "expected true or false";
        break;
    }
    return v;
}

static enum ecl_status
import_csv(struct import *im)
{
    struct csv_row *row = calloc(1, sizeof *row);
    const struct ecl_field **cols = calloc(ECL_SCHEMA_MAX_FIELDS, sizeof *cols);
    size_t ncols = 0;
    uint64_t line = 0;
    int end = 0;
    enum ecl_status st;

    if (row == NULL || cols == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    /* a UTF-8 byte order mark (spreadsheets write one) is not part of the first name */
    if (rd_peek(im->rd) == 0xef) {
        rd_get(im->rd);
        if (rd_get(im->rd) != 0xbb || rd_get(im->rd) != 0xbf) {
            st = fail(im, 1, NULL, "the header row is not valid UTF-8", ECL_ERR_INVALID);
            goto out;
        }
    }
    st = csv_read(im, row, &line, &end);
    if (st != ECL_OK || end) {
        goto out;
    }
    for (size_t i = 0; i < row->n; i++) {
        const char *name = csv_cell(im, row, i);
        size_t n = row->len[i];
        char tmp[ECL_NAME_MAX_LEN + 1];

        if (n == 0) {
            st = fail(im, line, NULL,
                      "the header row has an empty column name (the first line must name the "
                      "columns)",
                      ECL_ERR_INVALID);
            goto out;
        }
        if (!ecl_name_ok(name, n)) {
            unknown_field(name, n, im->err);
            im->err->line = line;
            st = ECL_ERR_INVALID;
            goto out;
        }
        memcpy(tmp, name, n);
        tmp[n] = 0;
        cols[i] = ecl_schema_field(im->schema, tmp);
        if (cols[i] == NULL) {
            unknown_field(name, n, im->err);
            im->err->line = line;
            st = ECL_ERR_INVALID;
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (cols[j] == cols[i]) {
                st = fail(im, line, cols[i]->name, "this column appears twice in the header",
                          ECL_ERR_INVALID);
                goto out;
            }
        }
        ncols = i + 1;
    }
    for (;;) {
        json_t *rec;

        st = csv_read(im, row, &line, &end);
        if (st != ECL_OK || end) {
            break;
        }
        if (row->n == 1 && row->len[0] == 0 && im->rd->eof) {
            break; /* a final empty line */
        }
        if (row->n != ncols) {
            st = fail(im, line, NULL,
                      row->n < ncols ? "the row has fewer values than the header"
                                     : "the row has more values than the header",
                      ECL_ERR_INVALID);
            break;
        }
        rec = json_object();
        if (rec == NULL) {
            st = ECL_ERR_NOMEM;
            break;
        }
        for (size_t i = 0; i < ncols && st == ECL_OK; i++) {
            const char *why = NULL;
            json_t *v = csv_value(cols[i], csv_cell(im, row, i), row->len[i], &why);
            if (v == NULL) {
                st = fail(im, line, cols[i]->name, why, ECL_ERR_INVALID);
            } else if (json_object_set_new(rec, cols[i]->name, v) != 0) {
                st = ECL_ERR_NOMEM;
            }
        }
        if (st == ECL_OK) {
            st = put_record(im, rec, line);
        }
        json_decref(rec);
        if (st != ECL_OK) {
            break;
        }
    }
out:
    free(cols);
    free(row);
    return st;
}

enum ecl_status
ecl_records_import(struct ecl_records *r, const char *dataset, FILE *in,
                   enum ecl_import_format format, ecl_import_progress_fn progress,
                   void *progress_ctx, struct ecl_import_error *err, struct ecl_import_result *out)
{
    struct import im;
    enum ecl_status st;

    memset(err, 0, sizeof *err);
    memset(&im, 0, sizeof im);
    im.r = r;
    im.err = err;
    im.progress = progress;
    im.progress_ctx = progress_ctx;
    st = ecl_records_dataset_get(r, dataset, &im.schema);
    if (st != ECL_OK) {
        err->reason = "no such dataset";
        return st;
    }
    im.rd = calloc(1, sizeof *im.rd);
    if (im.rd == NULL) {
        return ECL_ERR_NOMEM;
    }
    im.rd->f = in;
    ecl_buf_init(&im.rec, ECL_RECORD_MAX_BYTES);
    st = ecl_records_batch_begin(r, dataset, &im.batch);
    if (st != ECL_OK) {
        err->reason = "cannot start a write transaction";
        goto out;
    }
    switch (format) {
    case ECL_IMPORT_JSONL:
        st = import_jsonl(&im);
        break;
    case ECL_IMPORT_CSV:
        st = import_csv(&im);
        break;
    }
    if (st == ECL_OK && im.res.records == 0) {
        st = fail(&im, 0, NULL, "the file holds no records", ECL_ERR_INVALID);
    }
    if (st != ECL_OK) {
        ecl_records_batch_abort(im.batch);
        goto out;
    }
    st = ecl_records_batch_commit(im.batch, &im.res.inserted, &im.res.updated);
    if (st != ECL_OK) {
        err->reason = st == ECL_ERR_FULL ? "the store is full" : "the commit failed";
    }
out:
    ecl_buf_free(&im.rec);
    ecl_wipe(im.rd, sizeof *im.rd);
    free(im.rd);
    if (st == ECL_OK) {
        *out = im.res;
    }
    return st;
}
