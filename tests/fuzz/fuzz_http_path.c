/* libFuzzer target for the request-target decoders (gateway/http/router.c): ecl_http_path_decode
 * and ecl_http_query_decode.  A decoded path has no empty, "." or ".." segment and no control
 * byte, '/' or '\' inside a segment; everything decoded is valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_segment(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        !ecl_http_utf8_ok((const unsigned char *)s, n)) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ecl_http_path path;
    char q[256];

    if (size < 1) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        if (ecl_http_path_decode((const char *)data + 1, size - 1, &path) == ECL_OK) {
            if (path.nseg > ECL_HTTP_MAX_PATH_SEGMENTS) {
                abort();
            }
            for (size_t i = 0; i < path.nseg; i++) {
                check_segment(path.seg[i]);
            }
        }
        return 0;
    }
    if (ecl_http_query_decode((const char *)data + 1, size - 1, q, sizeof q) == ECL_OK) {
        size_t n = strnlen(q, sizeof q);

        if (n == sizeof q || !ecl_http_utf8_ok((const unsigned char *)q, n)) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)q[i] < 0x20) {
                abort();
            }
        }
    }
    return 0;
}
