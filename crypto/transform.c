/* Field transforms: the per-request context, canonical values, ecl_transform_apply and the
 * pseudonym look-up index (docs/transforms.md).  Every output is a new JSON value; the input
 * record is never modified. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ecl/transform.h"
#include "transform_internal.h"

#define INDEX_SEAL_AD "ecluse pseudo-index v1"
enum {
    CANON_CAP = ECL_TOKEN_MAX_PLAIN + 1, /* kind byte, value, ecl_normalize's NUL */
    INDEX_AD_LEN = sizeof INDEX_SEAL_AD - 1 + ECL_PSEUDO_INDEX_KEY_LEN,
    INDEX_PLAIN_MAX = 1 + ECL_NAME_MAX_LEN + ECL_PSEUDO_SUBJECT_KEY_MAX,
};
static const double EXACT_MAX = 9007199254740992.0; /* 2^53 */

/* ---- pure helpers ------------------------------------------------------------------------- */

void
ecl_transform_civil(int64_t t, int *y, int *m, int *d)
{
    /* days_from_civil's inverse (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms") */
    int64_t z = (t >= 0 ? t : t - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    int64_t yy = yoe + era * 400 + (mm <= 2 ? 1 : 0);

    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
}

size_t
ecl_transform_num_render(double v, char *out, size_t cap)
{
    int n = 0;

    if (v == 0) {
        n = snprintf(out, cap, "0"); /* also -0 */
    } else if (floor(v) == v && fabs(v) < EXACT_MAX) {
        n = snprintf(out, cap, "%lld", (long long)v);
    } else {
        /* the shortest %g precision that reads back as the same double */
        for (int p = 1; p <= 17; p++) {
            n = snprintf(out, cap, "%.*g", p, v);
            if (n > 0 && (size_t)n < cap && strtod(out, NULL) == v) {
                break;
            }
        }
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Byte offset of the code point number cp of a valid UTF-8 string (len when past the end). */
static size_t
utf8_offset(const char *s, size_t len, size_t cp)
{
    size_t seen = 0;

    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (seen == cp) {
                return i;
            }
            seen++;
        }
    }
    return len;
}

static size_t
utf8_count(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* ---- canonical values --------------------------------------------------------------------- */

enum ecl_status
ecl_transform_value_canon(const struct ecl_field *field, const json_t *in, uint8_t *out, size_t cap,
                          size_t *len)
{
    char text[64];
    size_t n = 0;
    uint8_t kind = 0;
    int y;
    int m;
    int d;

    if (field == NULL || in == NULL || cap < 2) {
        return ECL_ERR_INVALID;
    }
    switch (field->type) {
    case ECL_FT_STRING:
    case ECL_FT_ENUM: {
        if (!json_is_string(in)) {
            return ECL_ERR_INVALID;
        }
        size_t slen = json_string_length(in);
        if (slen > ECL_FIELD_MAX_BYTES) {
            return ECL_ERR_LIMIT;
        }
        n = ecl_normalize(field->normalize, json_string_value(in), slen, (char *)out + 1, cap - 1);
        if (n == (size_t)-1) {
            return ECL_ERR_LIMIT;
        }
        out[0] = 's';
        *len = n + 1;
        return ECL_OK;
    }
    case ECL_FT_DATE:
        if (!json_is_string(in) ||
            !ecl_date_parse(json_string_value(in), json_string_length(in), &y, &m, &d)) {
            return ECL_ERR_INVALID;
        }
        kind = 'd';
        n = (size_t)snprintf(text, sizeof text, "%04d-%02d-%02d", y, m, d);
        break;
    case ECL_FT_INTEGER:
        if (!json_is_integer(in)) {
            return ECL_ERR_INVALID;
        }
        kind = 'i';
        n = (size_t)snprintf(text, sizeof text, "%lld", (long long)json_integer_value(in));
        break;
    case ECL_FT_NUMBER:
        kind = 'n';
        if (json_is_integer(in)) {
            n = (size_t)snprintf(text, sizeof text, "%lld", (long long)json_integer_value(in));
        } else if (json_is_real(in)) {
            n = ecl_transform_num_render(json_real_value(in), text, sizeof text);
        } else {
            return ECL_ERR_INVALID;
        }
        break;
    case ECL_FT_BOOLEAN:
        if (!json_is_boolean(in)) {
            return ECL_ERR_INVALID;
        }
        kind = 'b';
        n = (size_t)snprintf(text, sizeof text, "%s", json_is_true(in) ? "true" : "false");
        break;
    }
    if (kind == 0 || n == 0 || n >= sizeof text) {
        return ECL_ERR_INVALID;
    }
    if (n > cap - 1) {
        return ECL_ERR_LIMIT;
    }
    out[0] = kind;
    memcpy(out + 1, text, n);
    *len = n + 1;
    return ECL_OK;
}

/* ---- context ------------------------------------------------------------------------------ */

void
ecl_transform_ctx_init(struct ecl_transform_ctx *ctx, const struct ecl_keyring *kr,
                       const char *agent, const char *purpose, int64_t now)
{
    /* only the counters: a slot is written before it is counted, and zeroing the ~3.5 KiB of
     * slots twice per request showed in the profile (memset) */
    ctx->keyring = kr;
    ctx->agent = agent;
    ctx->purpose = purpose;
    ctx->now = now;
    ctx->npseudo = 0;
    ctx->ntoken = 0;
    ctx->index_epoch = 0;
}

void
ecl_transform_ctx_free(struct ecl_transform_ctx *ctx)
{
    /* the slots in use hold derived keys; the others were never written */
    sodium_memzero(ctx->pseudo, ctx->npseudo * sizeof ctx->pseudo[0]);
    sodium_memzero(ctx->token, ctx->ntoken * sizeof ctx->token[0]);
    sodium_memzero(ctx->index_key, sizeof ctx->index_key);
    sodium_memzero(ctx->seal_key, sizeof ctx->seal_key);
    ctx->npseudo = 0;
    ctx->ntoken = 0;
    ctx->index_epoch = 0;
}

enum ecl_status
ecl_transform_domain(const struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                     struct ecl_domain *out)
{
    return ecl_domain_init(act->domain, ctx->agent, ctx->purpose, act->shared_domain, out);
}

static int
domain_equal(const struct ecl_domain *a, const struct ecl_domain *b)
{
    return a->enc_len == b->enc_len && ecl_crypto_equal(a->enc, b->enc, a->enc_len);
}

/* The pseudonym key of d at the current epoch: cached, or derived into tmp when the cache is
 * full (the caller wipes tmp). */
static enum ecl_status
pseudo_key(struct ecl_transform_ctx *ctx, const struct ecl_domain *d, struct ecl_pseudonym_key *tmp,
           const struct ecl_pseudonym_key **out)
{
    const uint8_t *root;
    struct ecl_pseudonym_key *k = tmp;

    for (size_t i = 0; i < ctx->npseudo; i++) {
        if (domain_equal(&ctx->pseudo[i].domain, d)) {
            *out = &ctx->pseudo[i];
            return ECL_OK;
        }
    }
    root = ecl_keyring_key(ctx->keyring, ECL_KEY_PSEUDONYM);
    if (root == NULL) {
        return ECL_ERR_PERM;
    }
    if (ctx->npseudo < ECL_TRANSFORM_DOMAIN_SLOTS) {
        k = &ctx->pseudo[ctx->npseudo++];
    }
    ecl_pseudonym_key_init(root, ecl_keyring_version(ctx->keyring, ECL_KEY_PSEUDONYM), d, k);
    *out = k;
    return ECL_OK;
}

static enum ecl_status
token_key(struct ecl_transform_ctx *ctx, const struct ecl_domain *d, struct ecl_token_key *tmp,
          const struct ecl_token_key **out)
{
    const uint8_t *root;
    struct ecl_token_key *k = tmp;

    for (size_t i = 0; i < ctx->ntoken; i++) {
        if (domain_equal(&ctx->token[i].domain, d)) {
            *out = &ctx->token[i];
            return ECL_OK;
        }
    }
    root = ecl_keyring_key(ctx->keyring, ECL_KEY_TOKEN);
    if (root == NULL) {
        return ECL_ERR_PERM;
    }
    if (ctx->ntoken < ECL_TRANSFORM_DOMAIN_SLOTS) {
        k = &ctx->token[ctx->ntoken++];
    }
    ecl_token_key_init(root, ecl_keyring_version(ctx->keyring, ECL_KEY_TOKEN), d, k);
    *out = k;
    return ECL_OK;
}

/* ---- the transforms ----------------------------------------------------------------------- */

static enum ecl_status
apply_pseudonymize(struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                   const struct ecl_field *field, const json_t *in, json_t **out)
{
    uint8_t canon[CANON_CAP];
    size_t canon_len = 0;
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    char ps[ECL_PSEUDONYM_MAX_LEN + 1];
    struct ecl_pseudonym_key tmp;
    const struct ecl_pseudonym_key *key = NULL;
    struct ecl_domain d;
    size_t n;
    json_t *v;
    enum ecl_status st;

    tmp.epoch = 0;
    st = ecl_transform_domain(ctx, act, &d);
    if (st == ECL_OK) {
        st = ecl_transform_value_canon(field, in, canon, sizeof canon, &canon_len);
    }
    if (st == ECL_OK) {
        st = pseudo_key(ctx, &d, &tmp, &key);
    }
    if (st != ECL_OK) {
        goto out;
    }
    ecl_pseudonym_tag(key, canon, canon_len, tag);
    n = ecl_pseudonym_render(key->epoch, tag, ps);
    v = json_stringn(ps, n);
    if (v == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    *out = v;
out:
    ecl_pseudonym_key_wipe(&tmp);
    sodium_memzero(canon, canon_len);
    return st;
}

static enum ecl_status
apply_tokenize(struct ecl_transform_ctx *ctx, const struct ecl_action *act,
               const struct ecl_field *field, const json_t *in, json_t **out)
{
    uint8_t canon[CANON_CAP];
    size_t canon_len = 0;
    struct ecl_token_key tmp;
    const struct ecl_token_key *key = NULL;
    struct ecl_buf tok;
    struct ecl_domain d;
    json_t *v;
    enum ecl_status st;

    tmp.version = 0;
    ecl_buf_init(&tok, ECL_TOKEN_MAX_LEN);
    st = ecl_transform_domain(ctx, act, &d);
    if (st == ECL_OK) {
        st = ecl_transform_value_canon(field, in, canon, sizeof canon, &canon_len);
    }
    if (st == ECL_OK) {
        st = token_key(ctx, &d, &tmp, &key);
    }
    if (st == ECL_OK) {
        st = ecl_token_seal(key, canon, canon_len, &tok);
    }
    if (st != ECL_OK) {
        goto out;
    }
    v = json_stringn((const char *)tok.ptr, tok.len);
    if (v == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    *out = v;
out:
    ecl_buf_free(&tok);
    ecl_token_key_wipe(&tmp);
    sodium_memzero(canon, canon_len);
    return st;
}

static enum ecl_status
new_string(const struct ecl_buf *b, json_t **out)
{
    json_t *v = json_stringn(b->len ? (const char *)b->ptr : "", b->len);

    if (v == NULL) {
        return ECL_ERR_NOMEM;
    }
    *out = v;
    return ECL_OK;
}

/* Keeps the first and last code points and replaces each other code point by one '*'.  When
 * nothing would be masked (keep_first + keep_last >= length) every code point is masked, so a
 * masked value is never released in full. */
static enum ecl_status
apply_mask(const struct ecl_action *act, const json_t *in, json_t **out)
{
    const char *s;
    size_t len;
    size_t cps;
    size_t first = act->keep_first;
    size_t last = act->keep_last;
    size_t a;
    size_t b;
    struct ecl_buf o;
    enum ecl_status st = ECL_OK;

    if (!json_is_string(in)) {
        return ECL_ERR_INVALID;
    }
    s = json_string_value(in);
    len = json_string_length(in);
    if (len > ECL_FIELD_MAX_BYTES) {
        return ECL_ERR_LIMIT;
    }
    cps = utf8_count(s, len);
    if (first >= cps || last >= cps - first) {
        first = 0;
        last = 0;
    }
    a = utf8_offset(s, len, first);
    b = utf8_offset(s, len, cps - last);
    ecl_buf_init(&o, len);
    st = ecl_buf_append(&o, s, a);
    for (size_t i = first; st == ECL_OK && i < cps - last; i++) {
        st = ecl_buf_append_byte(&o, '*');
    }
    if (st == ECL_OK) {
        st = ecl_buf_append(&o, s + b, len - b);
    }
    if (st == ECL_OK) {
        st = new_string(&o, out);
    }
    ecl_buf_free(&o);
    return st;
}

static enum ecl_status
new_text(const char *text, int n, size_t cap, json_t **out)
{
    json_t *v;

    if (n <= 0 || (size_t)n >= cap) {
        return ECL_ERR_INTERNAL;
    }
    v = json_stringn(text, (size_t)n);
    if (v == NULL) {
        return ECL_ERR_NOMEM;
    }
    *out = v;
    return ECL_OK;
}

/* Completed years at the request date; 29 February birthdays advance on 1 March in common
 * years.  Future birth dates give null; ages from ECL_AGE_BAND_TOP are "90+". */
static enum ecl_status
age_band(const struct ecl_transform_ctx *ctx, unsigned width, int by, int bm, int bd, json_t **out)
{
    /* request time must be a date of years 1..9999 */
    const int64_t min_t = -62135596800LL;
    const int64_t max_t = 253402300799LL;
    char text[32];
    int ty;
    int tm;
    int td;
    int age;
    int lo;
    int hi;

    if (width == 0 || width > ECL_AGE_BAND_TOP || ctx->now < min_t || ctx->now > max_t) {
        return ECL_ERR_INVALID;
    }
    ecl_transform_civil(ctx->now, &ty, &tm, &td);
    age = ty - by - ((tm < bm || (tm == bm && td < bd)) ? 1 : 0);
    if (age < 0) {
        *out = json_null();
        return ECL_OK;
    }
    if (age >= ECL_AGE_BAND_TOP) {
        return new_text(text, snprintf(text, sizeof text, "%d+", ECL_AGE_BAND_TOP), sizeof text,
                        out);
    }
    lo = age / (int)width * (int)width;
    hi = lo + (int)width - 1;
    if (hi > ECL_AGE_BAND_TOP - 1) {
        hi = ECL_AGE_BAND_TOP - 1;
    }
    return new_text(text, snprintf(text, sizeof text, "%d-%d", lo, hi), sizeof text, out);
}

/* "[lo,hi)" with lo = k*w <= x < (k+1)*w = hi, k = floor(x / w) corrected by one step when the
 * rounding of x / w puts x outside the rendered interval. */
static enum ecl_status
number_bucket(double w, const json_t *in, json_t **out)
{
    char lo_s[40];
    char hi_s[40];
    char text[96];
    double x;
    double k;
    double lo;
    double hi;

    if (!json_is_number(in) || !isfinite(w) || !(w > 0)) {
        return ECL_ERR_INVALID;
    }
    if (json_is_integer(in)) {
        json_int_t i = json_integer_value(in);
        if (i >= (json_int_t)EXACT_MAX || i <= -(json_int_t)EXACT_MAX) {
            return ECL_ERR_INVALID;
        }
        x = (double)i;
    } else {
        x = json_real_value(in);
    }
    if (!isfinite(x) || fabs(x) >= EXACT_MAX || !isfinite(x / w) || fabs(x / w) >= EXACT_MAX / 2) {
        return ECL_ERR_INVALID;
    }
    k = floor(x / w);
    if (k * w > x) {
        k -= 1;
    } else if ((k + 1) * w <= x) {
        k += 1;
    }
    lo = k * w;
    hi = (k + 1) * w;
    if (!(lo <= x && x < hi)) {
        return ECL_ERR_INVALID;
    }
    if (ecl_transform_num_render(lo, lo_s, sizeof lo_s) == 0 ||
        ecl_transform_num_render(hi, hi_s, sizeof hi_s) == 0) {
        return ECL_ERR_INTERNAL;
    }
    return new_text(text, snprintf(text, sizeof text, "[%s,%s)", lo_s, hi_s), sizeof text, out);
}

static enum ecl_status
new_prefix(const char *s, size_t len, size_t n, json_t **out)
{
    json_t *v = json_stringn(s, n <= len ? n : len);

    if (v == NULL) {
        return ECL_ERR_NOMEM;
    }
    *out = v;
    return ECL_OK;
}

static enum ecl_status
apply_generalize(const struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                 const json_t *in, json_t **out)
{
    const char *s = json_is_string(in) ? json_string_value(in) : NULL;
    size_t len = json_is_string(in) ? json_string_length(in) : 0;
    int y = 0;
    int m = 0;
    int d = 0;

    if (s != NULL && len > ECL_FIELD_MAX_BYTES) {
        return ECL_ERR_LIMIT;
    }
    switch (act->gen) {
    case ECL_GEN_DATE_YEAR:
    case ECL_GEN_DATE_MONTH:
    case ECL_GEN_AGE_BAND:
        if (s == NULL || !ecl_date_parse(s, len, &y, &m, &d)) {
            return ECL_ERR_INVALID;
        }
        if (act->gen == ECL_GEN_AGE_BAND) {
            return age_band(ctx, act->band_years, y, m, d, out);
        }
        return new_prefix(s, len, act->gen == ECL_GEN_DATE_YEAR ? 4 : 7, out);
    case ECL_GEN_NUMBER_BUCKET:
        return number_bucket(act->bucket_width, in, out);
    case ECL_GEN_STRING_PREFIX:
        if (s == NULL || act->prefix_len == 0) {
            return ECL_ERR_INVALID;
        }
        return new_prefix(s, len, utf8_offset(s, len, act->prefix_len), out);
    }
    return ECL_ERR_INVALID; /* a value outside the enum: not a plan the policy produces */
}

enum ecl_status
ecl_transform_apply(struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                    const struct ecl_field *field, const json_t *in, json_t **out)
{
    json_t *v;

    if (in == NULL || act == NULL) {
        return ECL_ERR_INVALID;
    }
    if (json_is_null(in)) {
        *out = json_null();
        return ECL_OK;
    }
    switch (act->kind) {
    case ECL_ACT_ALLOW:
        v = json_deep_copy(in);
        if (v == NULL) {
            return ECL_ERR_NOMEM;
        }
        *out = v;
        return ECL_OK;
    case ECL_ACT_PSEUDONYMIZE:
        return apply_pseudonymize(ctx, act, field, in, out);
    case ECL_ACT_TOKENIZE:
        return apply_tokenize(ctx, act, field, in, out);
    case ECL_ACT_MASK:
        return apply_mask(act, in, out);
    case ECL_ACT_GENERALIZE:
        return apply_generalize(ctx, act, in, out);
    case ECL_ACT_REDACT:
        *out = json_null();
        return ECL_OK;
    }
    return ECL_ERR_INVALID;
}

/* ---- look-up by pseudonym ----------------------------------------------------------------- */

/* The index and seal keys of a pseudonym epoch: cached for the current epoch, derived into
 * index_key / seal_key otherwise (the caller wipes them). */
static enum ecl_status
index_keys(struct ecl_transform_ctx *ctx, uint32_t epoch, uint8_t index_key[ECL_KEY_LEN],
           uint8_t seal_key[ECL_KEY_LEN])
{
    uint8_t root[ECL_KEY_LEN];
    uint32_t current = ecl_keyring_version(ctx->keyring, ECL_KEY_PSEUDONYM);
    enum ecl_status st;

    if (epoch == 0 || epoch > current) {
        return ECL_ERR_NOT_FOUND;
    }
    if (epoch == current && ctx->index_epoch == current) {
        memcpy(index_key, ctx->index_key, ECL_KEY_LEN);
        memcpy(seal_key, ctx->seal_key, ECL_KEY_LEN);
        return ECL_OK;
    }
    st = ecl_keyring_key_at(ctx->keyring, ECL_KEY_PSEUDONYM, epoch, root);
    if (st != ECL_OK) {
        return st;
    }
    ecl_transform_index_keys(root, index_key, seal_key);
    sodium_memzero(root, sizeof root);
    if (epoch == current) {
        memcpy(ctx->index_key, index_key, ECL_KEY_LEN);
        memcpy(ctx->seal_key, seal_key, ECL_KEY_LEN);
        ctx->index_epoch = current;
    }
    return ECL_OK;
}

enum ecl_status
ecl_transform_pseudo_index_key(struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                               const char *pseudonym, size_t len,
                               uint8_t out[ECL_PSEUDO_INDEX_KEY_LEN])
{
    uint8_t ikey[ECL_KEY_LEN];
    uint8_t skey[ECL_KEY_LEN];
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    uint8_t ep[4];
    uint32_t epoch = 0;
    struct ecl_domain d;
    crypto_generichash_state h;
    enum ecl_status st;

    st = ecl_pseudonym_parse(pseudonym, len, &epoch, tag);
    if (st == ECL_OK) {
        st = ecl_transform_domain(ctx, act, &d);
    }
    if (st == ECL_OK) {
        st = index_keys(ctx, epoch, ikey, skey);
    }
    if (st != ECL_OK) {
        goto out;
    }
    ecl_put_u32(ep, epoch);
    crypto_generichash_init(&h, ikey, sizeof ikey, ECL_PSEUDO_INDEX_KEY_LEN);
    crypto_generichash_update(&h, d.enc, d.enc_len);
    crypto_generichash_update(&h, ep, sizeof ep);
    crypto_generichash_update(&h, tag, sizeof tag);
    crypto_generichash_final(&h, out, ECL_PSEUDO_INDEX_KEY_LEN);
out:
    sodium_memzero(&h, sizeof h);
    sodium_memzero(ikey, sizeof ikey);
    sodium_memzero(skey, sizeof skey);
    return st;
}

static void
index_ad(const uint8_t index_key[ECL_PSEUDO_INDEX_KEY_LEN], uint8_t ad[INDEX_AD_LEN])
{
    memcpy(ad, INDEX_SEAL_AD, sizeof INDEX_SEAL_AD - 1);
    memcpy(ad + sizeof INDEX_SEAL_AD - 1, index_key, ECL_PSEUDO_INDEX_KEY_LEN);
}

enum ecl_status
ecl_transform_pseudo_seal(struct ecl_transform_ctx *ctx,
                          const uint8_t index_key[ECL_PSEUDO_INDEX_KEY_LEN],
                          const struct ecl_pseudo_target *target, struct ecl_buf *out)
{
    uint8_t ikey[ECL_KEY_LEN];
    uint8_t skey[ECL_KEY_LEN];
    uint8_t plain[INDEX_PLAIN_MAX];
    uint8_t ad[INDEX_AD_LEN];
    uint8_t *ep = NULL;
    size_t ds_len = strnlen(target->dataset, sizeof target->dataset);
    size_t plain_len = 0;
    size_t start = out->len;
    uint32_t epoch = ecl_keyring_version(ctx->keyring, ECL_KEY_PSEUDONYM);
    enum ecl_status st;

    if (ds_len == 0 || ds_len > ECL_NAME_MAX_LEN || target->subject_key_len == 0 ||
        target->subject_key_len > ECL_PSEUDO_SUBJECT_KEY_MAX) {
        return ECL_ERR_INVALID;
    }
    st = index_keys(ctx, epoch, ikey, skey);
    if (st != ECL_OK) {
        goto out;
    }
    plain[0] = (uint8_t)ds_len;
    memcpy(plain + 1, target->dataset, ds_len);
    memcpy(plain + 1 + ds_len, target->subject_key, target->subject_key_len);
    plain_len = 1 + ds_len + target->subject_key_len;
    index_ad(index_key, ad);
    st = ecl_buf_extend(out, 4, &ep);
    if (st == ECL_OK) {
        ecl_put_u32(ep, epoch);
        st = ecl_crypto_aead_seal(skey, ad, sizeof ad, plain, plain_len, out);
    }
    if (st != ECL_OK) {
        out->len = start;
    }
out:
    sodium_memzero(plain, sizeof plain);
    sodium_memzero(ikey, sizeof ikey);
    sodium_memzero(skey, sizeof skey);
    return st;
}

enum ecl_status
ecl_transform_pseudo_open(struct ecl_transform_ctx *ctx,
                          const uint8_t index_key[ECL_PSEUDO_INDEX_KEY_LEN], const uint8_t *sealed,
                          size_t sealed_len, struct ecl_pseudo_target *out)
{
    uint8_t ikey[ECL_KEY_LEN];
    uint8_t skey[ECL_KEY_LEN];
    uint8_t ad[INDEX_AD_LEN];
    struct ecl_pseudo_target t;
    struct ecl_buf plain;
    size_t ds_len;
    enum ecl_status st;

    ecl_buf_init(&plain, INDEX_PLAIN_MAX);
    memset(&t, 0, sizeof t);
    if (sealed_len < 4) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    st = index_keys(ctx, ecl_get_u32(sealed), ikey, skey);
    if (st == ECL_ERR_NOT_FOUND) {
        st = ECL_ERR_CRYPTO; /* an epoch we never sealed with */
    }
    if (st != ECL_OK) {
        goto out;
    }
    index_ad(index_key, ad);
    st = ecl_crypto_aead_open(skey, ad, sizeof ad, sealed + 4, sealed_len - 4, &plain);
    if (st != ECL_OK) {
        st = st == ECL_ERR_LIMIT ? ECL_ERR_CRYPTO : st;
        goto out;
    }
    ds_len = plain.len > 0 ? plain.ptr[0] : 0;
    if (ds_len == 0 || ds_len > ECL_NAME_MAX_LEN || plain.len <= 1 + ds_len ||
        plain.len - 1 - ds_len > ECL_PSEUDO_SUBJECT_KEY_MAX) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    memcpy(t.dataset, plain.ptr + 1, ds_len);
    t.subject_key_len = plain.len - 1 - ds_len;
    memcpy(t.subject_key, plain.ptr + 1 + ds_len, t.subject_key_len);
    *out = t;
out:
    sodium_memzero(&t, sizeof t);
    ecl_buf_free(&plain);
    sodium_memzero(ikey, sizeof ikey);
    sodium_memzero(skey, sizeof skey);
    return st;
}
