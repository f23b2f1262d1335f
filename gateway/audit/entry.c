/* Entry format: payload JSON, blind-index tokens, clear header, sealing and opening. */
#include <stdlib.h>
#include <string.h>

#include "ecl/schema.h"
#include "ecl/json_str.h"
#include "entry.h"

static const char *const kind_names[] = {
    [ECL_AUDIT_RECORD_READ] = "record.read",
    [ECL_AUDIT_RECORD_QUERY] = "record.query",
    [ECL_AUDIT_REIDENTIFY] = "reidentify",
    [ECL_AUDIT_RECORDS_IMPORT] = "records.import",
    [ECL_AUDIT_POLICY_CHANGE] = "policy.change",
    [ECL_AUDIT_PRINCIPAL_CHANGE] = "principal.change",
    [ECL_AUDIT_ERASURE] = "erasure",
    [ECL_AUDIT_OBJECTION] = "objection",
    [ECL_AUDIT_STARTUP] = "startup",
    [ECL_AUDIT_SHUTDOWN] = "shutdown",
    [ECL_AUDIT_KEY_EVENT] = "key.event",
    [ECL_AUDIT_LOG_CREATED] = "log.created",
    [ECL_AUDIT_ACCESS_REFUSED] = "access.refused",
    [ECL_AUDIT_DATASET_INFO] = "dataset.info",
    [ECL_AUDIT_AUDIT_READ] = "audit.read",
    [ECL_AUDIT_POLICY_READ] = "policy.read",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == ECL_AUDIT_KIND_COUNT, "kinds");

static const char *const channel_names[] = {
    [ECL_AUDIT_CH_NONE] = "none",
    [ECL_AUDIT_CH_REST] = "rest",
    [ECL_AUDIT_CH_MCP] = "mcp",
    [ECL_AUDIT_CH_CLI] = "cli",
};
_Static_assert(sizeof channel_names / sizeof channel_names[0] == ECL_AUDIT_CHANNEL_COUNT, "ch");

static const char *const decision_names[] = {
    [ECL_AUDIT_NO_DECISION] = "none",
    [ECL_AUDIT_ALLOW] = "allow",
    [ECL_AUDIT_DENY] = "deny",
};
_Static_assert(sizeof decision_names / sizeof decision_names[0] == ECL_AUDIT_DECISION_COUNT, "d");

static const char *const action_names[] = {
    [ECL_ACT_ALLOW] = "allow",           [ECL_ACT_PSEUDONYMIZE] = "pseudonymize",
    [ECL_ACT_TOKENIZE] = "tokenize",     [ECL_ACT_MASK] = "mask",
    [ECL_ACT_GENERALIZE] = "generalize", [ECL_ACT_REDACT] = "redact",
};
_Static_assert(sizeof action_names / sizeof action_names[0] == ECL_ACT_COUNT, "actions");

const char *
ecl_audit_kind_name(enum ecl_audit_kind k)
{
    return (unsigned)k < ECL_AUDIT_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *
ecl_audit_channel_name(enum ecl_audit_channel c)
{
    return (unsigned)c < ECL_AUDIT_CHANNEL_COUNT ? channel_names[c] : "unknown";
}

const char *
ecl_audit_decision_name(enum ecl_audit_decision d)
{
    return (unsigned)d < ECL_AUDIT_DECISION_COUNT ? decision_names[d] : "unknown";
}

void
ecl_audit_token(const uint8_t key[ECL_KEY_LEN], enum ecl_audit_token_domain domain, const char *id,
                size_t id_len, uint8_t out[ECL_AUDIT_TOKEN_LEN])
{
    static const char subject[] = "subject";
    static const char principal[] = "principal";
    uint8_t msg[sizeof principal + ECL_AUDIT_TEXT_MAX_LEN];
    uint8_t full[16];
    const char *d = domain == ECL_AUDIT_TOK_SUBJECT ? subject : principal;
    size_t dn = strlen(d) + 1; /* with its NUL: domain || 0x00 */

    if (id_len > ECL_AUDIT_TEXT_MAX_LEN) {
        id_len = ECL_AUDIT_TEXT_MAX_LEN; /* callers check the limit first */
    }
    memcpy(msg, d, dn);
    memcpy(msg + dn, id, id_len);
    ecl_crypto_blake2b(full, sizeof full, key, ECL_KEY_LEN, msg, dn + id_len);
    memcpy(out, full, ECL_AUDIT_TOKEN_LEN);
    ecl_wipe(msg, sizeof msg);
}

static int
token_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ECL_AUDIT_TOKEN_LEN);
}

size_t
ecl_audit_tokens_sort(uint8_t *tokens, size_t n)
{
    size_t out = 0;

    if (n == 0) {
        return 0;
    }
    qsort(tokens, n, ECL_AUDIT_TOKEN_LEN, token_cmp);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(tokens + i * ECL_AUDIT_TOKEN_LEN, tokens + out * ECL_AUDIT_TOKEN_LEN,
                   ECL_AUDIT_TOKEN_LEN) != 0) {
            out++;
            memmove(tokens + out * ECL_AUDIT_TOKEN_LEN, tokens + i * ECL_AUDIT_TOKEN_LEN,
                    ECL_AUDIT_TOKEN_LEN);
        }
    }
    return out + 1;
}

static int
text_ok(const char *s)
{
    return s == NULL || strlen(s) <= ECL_AUDIT_TEXT_MAX_LEN;
}

/* The payload is encoded directly (no jansson tree): exactly what
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) produced for the same event, so
 * the format (docs/audit-format.md) is unchanged; test_audit_payload compares the two encoders
 * over random events.  Building the tree and dumping it cost about 110k instructions per entry. */

static int
utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left;
    uint32_t cp;

    if (s == NULL) {
        return 1;
    }
    left = strlen(s);
    while (left > 0) {
        size_t n = ecl_utf8_next(p, left, &cp);
        if (n == 0) {
            return 0;
        }
        p += n;
        left -= n;
    }
    return 1;
}

/* A JSON string as jansson writes it with JSON_ENSURE_ASCII (ecl/json_str.h). */
static enum ecl_status
put_str(struct ecl_buf *b, const char *s)
{
    return ecl_json_str_append(b, s, strlen(s), ECL_JSON_STR_ASCII);
}

/* ,"key":"value" (the separator unless first), nothing when val is NULL. */
static enum ecl_status
put_member(struct ecl_buf *b, int *first, const char *key, const char *val)
{
    if (val == NULL) {
        return ECL_OK;
    }
    char pre[24];
    size_t kl = strlen(key);
    size_t n = 0;

    if (kl > sizeof pre - 4) {
        if (!*first) {
            ECL_GUARD(ecl_buf_append_byte(b, ','));
        }
        *first = 0;
        ECL_GUARD(put_str(b, key));
        ECL_GUARD(ecl_buf_append_byte(b, ':'));
        return put_str(b, val);
    }
    /* our keys are plain ASCII names: ,"key": in one append (no escaping to do) */
    if (!*first) {
        pre[n++] = ',';
    }
    *first = 0;
    pre[n++] = '"';
    memcpy(pre + n, key, kl);
    n += kl;
    pre[n++] = '"';
    pre[n++] = ':';
    ECL_GUARD(ecl_buf_append(b, pre, n));
    return put_str(b, val);
}

static enum ecl_status
put_hex_member(struct ecl_buf *b, int *first, const char *key, const uint8_t *p)
{
    char hex[2 * ECL_HASH_LEN + 1];

    if (p == NULL) {
        return ECL_OK;
    }
    ecl_hex(p, ECL_HASH_LEN, hex);
    return put_member(b, first, key, hex);
}

/* A json_int_t (int64) in decimal, as jansson writes it. */
static enum ecl_status
put_int(struct ecl_buf *b, int64_t v)
{
    return ecl_json_int_append(b, v);
}

static int
event_ok(const struct ecl_audit_event *ev)
{
    const char *const strs[] = {ev->principal,  ev->role,    ev->official, ev->case_ref,
                                ev->purpose,    ev->dataset, ev->rule_id,  ev->reason,
                                ev->request_id, ev->detail};

    if ((unsigned)ev->kind >= ECL_AUDIT_KIND_COUNT ||
        (unsigned)ev->channel >= ECL_AUDIT_CHANNEL_COUNT ||
        (unsigned)ev->decision >= ECL_AUDIT_DECISION_COUNT ||
        ev->nsubjects > ECL_AUDIT_SUBJECTS_PER_ENTRY || ev->nfields > ECL_AUDIT_FIELDS_PER_ENTRY ||
        (ev->nsubjects > 0 && ev->subjects == NULL) || (ev->nfields > 0 && ev->fields == NULL) ||
        (ev->counted != NULL && (ev->counted->at < 0 || ev->counted->window < 0 ||
                                 ev->counted->records > ECL_AUDIT_COUNTED_RECORDS_MAX))) {
        return 0;
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!text_ok(strs[i]) || !utf8_ok(strs[i])) {
            return 0; /* invalid UTF-8: the event is refused as a whole */
        }
    }
    for (size_t i = 0; i < ev->nsubjects; i++) {
        if (ev->subjects[i] == NULL || strlen(ev->subjects[i]) > ECL_SUBJECT_ID_MAX_LEN ||
            !utf8_ok(ev->subjects[i])) {
            return 0;
        }
    }
    for (size_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].name == NULL || strlen(ev->fields[i].name) > ECL_NAME_MAX_LEN ||
            (unsigned)ev->fields[i].action >= ECL_ACT_COUNT || !utf8_ok(ev->fields[i].name)) {
            return 0;
        }
    }
    return 1;
}

/* The members in the order JSON_SORT_KEYS gives them (byte order of the keys). */
static enum ecl_status
payload_put(const struct ecl_audit_event *ev, struct ecl_buf *b)
{
    int first = 1;

    ECL_GUARD(ecl_buf_append_byte(b, '{'));
    ECL_GUARD(put_member(b, &first, "case", ev->case_ref));
    /* channel is always present: every member after it starts with a comma */
    ECL_GUARD(put_member(b, &first, "channel", channel_names[ev->channel]));
    if (ev->counted != NULL) {
        ECL_GUARD(ecl_buf_append_str(b, ",\"counted\":{\"at\":"));
        ECL_GUARD(put_int(b, ev->counted->at));
        ECL_GUARD(ecl_buf_append_str(b, ",\"records\":"));
        ECL_GUARD(put_int(b, (int64_t)ev->counted->records));
        ECL_GUARD(ecl_buf_append_str(b, ",\"window\":"));
        ECL_GUARD(put_int(b, ev->counted->window));
        ECL_GUARD(ecl_buf_append_byte(b, '}'));
    }
    ECL_GUARD(put_member(b, &first, "dataset", ev->dataset));
    ECL_GUARD(put_member(b, &first, "decision", decision_names[ev->decision]));
    ECL_GUARD(put_member(b, &first, "detail", ev->detail));
    if (ev->nfields > 0) {
        ECL_GUARD(ecl_buf_append_str(b, ",\"fields\":["));
        for (size_t i = 0; i < ev->nfields; i++) {
            int f1 = 1;
            ECL_GUARD(ecl_buf_append_str(b, i == 0 ? "{" : ",{"));
            ECL_GUARD(put_member(b, &f1, "action", action_names[ev->fields[i].action]));
            ECL_GUARD(put_member(b, &f1, "field", ev->fields[i].name));
            ECL_GUARD(ecl_buf_append_byte(b, '}'));
        }
        ECL_GUARD(ecl_buf_append_byte(b, ']'));
    }
    ECL_GUARD(put_member(b, &first, "kind", kind_names[ev->kind]));
    ECL_GUARD(put_member(b, &first, "official", ev->official));
    if (ev->policy_version != 0 || ev->policy_hash != NULL) {
        int f1 = 1;
        ECL_GUARD(ecl_buf_append_str(b, ",\"policy\":{"));
        ECL_GUARD(put_hex_member(b, &f1, "hash", ev->policy_hash));
        ECL_GUARD(ecl_buf_append_str(b, f1 ? "\"version\":" : ",\"version\":"));
        ECL_GUARD(put_int(b, (int64_t)ev->policy_version));
        ECL_GUARD(ecl_buf_append_byte(b, '}'));
    }
    ECL_GUARD(put_member(b, &first, "principal", ev->principal));
    ECL_GUARD(put_member(b, &first, "purpose", ev->purpose));
    ECL_GUARD(put_member(b, &first, "reason", ev->reason));
    ECL_GUARD(put_member(b, &first, "request_id", ev->request_id));
    ECL_GUARD(put_hex_member(b, &first, "response_blake2b", ev->response_digest));
    ECL_GUARD(put_member(b, &first, "role", ev->role));
    ECL_GUARD(put_member(b, &first, "rule", ev->rule_id));
    if (ev->nsubjects > 0) {
        ECL_GUARD(ecl_buf_append_str(b, ",\"subjects\":["));
        for (size_t i = 0; i < ev->nsubjects; i++) {
            if (i > 0) {
                ECL_GUARD(ecl_buf_append_byte(b, ','));
            }
            ECL_GUARD(put_str(b, ev->subjects[i]));
        }
        ECL_GUARD(ecl_buf_append_byte(b, ']'));
    }
    ECL_GUARD(ecl_buf_append_str(b, ",\"v\":"));
    ECL_GUARD(put_int(b, ECL_AUDIT_FORMAT_VERSION));
    return ecl_buf_append_byte(b, '}');
}

enum ecl_status
ecl_audit_payload_build(const struct ecl_audit_event *ev, struct ecl_buf *out)
{
    size_t start = out->len;
    enum ecl_status st;

    if (!event_ok(ev)) {
        return ECL_ERR_INVALID;
    }
    st = payload_put(ev, out);
    if (st != ECL_OK) {
        /* nothing of a refused event stays in out */
        ecl_buf_truncate(out, start);
    }
    return st;
}

static void
header_write(uint8_t *h, const uint8_t log_id[ECL_LOG_ID_LEN], uint64_t seq, uint64_t time_ms,
             uint32_t key_version, const uint8_t principal_token[ECL_AUDIT_TOKEN_LEN],
             const uint8_t *tokens, size_t ntokens)
{
    size_t off = 0;

    memcpy(h, ECL_AUDIT_MAGIC, 4);
    off += 4;
    h[off++] = ECL_AUDIT_FORMAT_VERSION;
    memcpy(h + off, log_id, ECL_LOG_ID_LEN);
    off += ECL_LOG_ID_LEN;
    ecl_put_u64(h + off, seq);
    off += 8;
    ecl_put_u64(h + off, time_ms);
    off += 8;
    ecl_put_u32(h + off, key_version);
    off += 4;
    memcpy(h + off, principal_token, ECL_AUDIT_TOKEN_LEN);
    off += ECL_AUDIT_TOKEN_LEN;
    ecl_put_u16(h + off, (uint16_t)ntokens);
    off += 2;
    if (ntokens > 0) {
        memcpy(h + off, tokens, ntokens * ECL_AUDIT_TOKEN_LEN);
    }
}

enum ecl_status
ecl_audit_leaf_seal(const struct ecl_keyring *kr, uint64_t seq, uint64_t time_ms,
                    const uint8_t principal_token[ECL_AUDIT_TOKEN_LEN], const uint8_t *tokens,
                    size_t ntokens, const uint8_t *payload, size_t payload_len,
                    struct ecl_buf *leaf)
{
    const uint8_t *key = ecl_keyring_key(kr, ECL_KEY_AUDIT_ENTRY);
    size_t hlen = ECL_AUDIT_HEADER_FIXED + ntokens * ECL_AUDIT_TOKEN_LEN;
    struct ecl_buf hdr;
    uint8_t *h = NULL;
    enum ecl_status st;

    if (key == NULL) {
        return ECL_ERR_PERM;
    }
    if (ntokens > ECL_AUDIT_SUBJECTS_PER_ENTRY ||
        payload_len > ECL_AUDIT_ENTRY_MAX_BYTES - hlen - ECL_AUDIT_NONCE_TAG) {
        return ECL_ERR_LIMIT;
    }
    /* the header lives in its own buffer: growing leaf must not move the associated data */
    ecl_buf_init(&hdr, hlen);
    st = ecl_buf_extend(&hdr, hlen, &h);
    if (st == ECL_OK) {
        header_write(h, ecl_keyring_log_id(kr), seq, time_ms,
                     ecl_keyring_version(kr, ECL_KEY_AUDIT_ENTRY), principal_token, tokens,
                     ntokens);
        st = ecl_buf_append(leaf, hdr.ptr, hdr.len);
    }
    /* the header is the associated data: it cannot be changed without breaking the tag */
    if (st == ECL_OK) {
        st = ecl_crypto_aead_seal(key, hdr.ptr, hdr.len, payload, payload_len, leaf);
    }
    ecl_buf_free(&hdr);
    return st;
}

enum ecl_status
ecl_audit_header_parse(const uint8_t *leaf, size_t len, struct ecl_audit_header *out)
{
    struct ecl_reader r;
    const uint8_t *p = NULL;
    uint16_t n = 0;
    struct ecl_audit_header h;

    memset(&h, 0, sizeof h);
    ecl_reader_init(&r, leaf, len);
    ECL_GUARD(ecl_reader_bytes(&r, 4, &p));
    if (memcmp(p, ECL_AUDIT_MAGIC, 4) != 0) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_u8(&r, &h.version));
    if (h.version != ECL_AUDIT_FORMAT_VERSION) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_bytes(&r, ECL_LOG_ID_LEN, &p));
    memcpy(h.log_id, p, ECL_LOG_ID_LEN);
    ECL_GUARD(ecl_reader_u64(&r, &h.seq));
    ECL_GUARD(ecl_reader_u64(&r, &h.time_ms));
    ECL_GUARD(ecl_reader_u32(&r, &h.key_version));
    ECL_GUARD(ecl_reader_bytes(&r, ECL_AUDIT_TOKEN_LEN, &p));
    memcpy(h.principal_token, p, ECL_AUDIT_TOKEN_LEN);
    ECL_GUARD(ecl_reader_u16(&r, &n));
    if (n > ECL_AUDIT_SUBJECTS_PER_ENTRY) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_bytes(&r, (size_t)n * ECL_AUDIT_TOKEN_LEN, &h.tokens));
    for (size_t i = 1; i < n; i++) {
        if (memcmp(h.tokens + (i - 1) * ECL_AUDIT_TOKEN_LEN, h.tokens + i * ECL_AUDIT_TOKEN_LEN,
                   ECL_AUDIT_TOKEN_LEN) >= 0) {
            return ECL_ERR_INVALID; /* strictly increasing: one canonical header */
        }
    }
    h.ntokens = n;
    h.header_len = r.off;
    if (ecl_reader_left(&r) < ECL_AUDIT_NONCE_TAG) {
        return ECL_ERR_INVALID;
    }
    *out = h;
    return ECL_OK;
}

enum ecl_status
ecl_audit_leaf_open(const struct ecl_keyring *kr, const uint8_t *leaf, size_t len,
                    struct ecl_audit_header *hdr, json_t **payload)
{
    uint8_t key[ECL_KEY_LEN];
    struct ecl_buf plain;
    struct ecl_audit_header h;
    const char *why = NULL;
    int line = 0;
    json_t *j = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_header_parse(leaf, len, &h));
    ecl_buf_init(&plain, ECL_AUDIT_ENTRY_MAX_BYTES);
    st = ecl_keyring_key_at(kr, ECL_KEY_AUDIT_ENTRY, h.key_version, key);
    if (st != ECL_OK) {
        goto out;
    }
    st = ecl_crypto_aead_open(key, leaf, h.header_len, leaf + h.header_len, len - h.header_len,
                              &plain);
    if (st != ECL_OK) {
        goto out;
    }
    j = ecl_json_load((const char *)plain.ptr, plain.len, ECL_JSON_MAX_DEPTH, &why, &line);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        st = ECL_ERR_INVALID;
        goto out;
    }
    *hdr = h;
    *payload = j;
out:
    ecl_wipe(key, sizeof key);
    ecl_buf_free(&plain);
    return st;
}
