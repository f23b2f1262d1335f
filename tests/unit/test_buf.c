/* The shared vocabulary: capped buffers, overflow checks, binary reader, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ecl/buf.h"
#include "ecl/status.h"

static void
test_buf_cap(void **state)
{
    struct ecl_buf b;
    const char *s = NULL;

    (void)state;
    ecl_buf_init(&b, 8);
    assert_int_equal(ecl_buf_append(&b, "1234567", 7), ECL_OK);  /* max-1 */
    assert_int_equal(ecl_buf_append(&b, "8", 1), ECL_OK);        /* max */
    assert_int_equal(ecl_buf_append(&b, "9", 1), ECL_ERR_LIMIT); /* max+1 */
    assert_int_equal(b.len, 8);
    assert_int_equal(ecl_buf_cstr(&b, &s), ECL_OK);
    assert_string_equal(s, "12345678");
    ecl_buf_reset(&b);
    assert_int_equal(b.len, 0);
    ecl_buf_free(&b);
    assert_null(b.ptr);
}

static void
test_buf_grow(void **state)
{
    struct ecl_buf b;
    uint8_t *p = NULL;

    (void)state;
    ecl_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(ecl_buf_append_byte(&b, (uint8_t)i), ECL_OK);
    }
    assert_int_equal(b.len, 10000);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(b.ptr[i], (uint8_t)i);
    }
    assert_int_equal(ecl_buf_extend(&b, 5, &p), ECL_OK);
    assert_int_equal(b.len, 10005);
    assert_int_equal(p[4], 0);
    ecl_buf_free(&b);
}

/* Taking back a partial append: the tail is wiped (the bytes stay allocated, so this reads them),
 * the length goes back, and an empty, never-allocated buffer is left alone. */
static void
test_buf_truncate(void **state)
{
    struct ecl_buf b;

    (void)state;
    ecl_buf_init(&b, 64);
    ecl_buf_truncate(&b, 0); /* NULL pointer: nothing to do, no pointer arithmetic */
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    assert_int_equal(ecl_buf_append(&b, "keep", 4), ECL_OK);
    assert_int_equal(ecl_buf_append(&b, "secret", 6), ECL_OK);
    ecl_buf_truncate(&b, 4);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "keep", 4);
    for (size_t i = 4; i < 10; i++) {
        assert_int_equal(b.ptr[i], 0);
    }
    ecl_buf_truncate(&b, 9); /* longer than the content: unchanged */
    assert_int_equal(b.len, 4);
    ecl_buf_free(&b);
}

static void
test_overflow(void **state)
{
    size_t out = 0;

    (void)state;
    assert_int_equal(ecl_size_add(SIZE_MAX - 1, 1, &out), ECL_OK);
    assert_int_equal(out, SIZE_MAX);
    assert_int_equal(ecl_size_add(SIZE_MAX, 1, &out), ECL_ERR_LIMIT);
    assert_int_equal(ecl_size_mul(SIZE_MAX / 2, 2, &out), ECL_OK);
    assert_int_equal(ecl_size_mul(SIZE_MAX / 2 + 1, 2, &out), ECL_ERR_LIMIT);
    assert_int_equal(ecl_size_mul(0, SIZE_MAX, &out), ECL_OK);
    assert_int_equal(out, 0);
}

static void
test_reader(void **state)
{
    const uint8_t in[] = {1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 9};
    struct ecl_reader r;
    uint8_t a;
    uint16_t b;
    uint32_t c;
    uint64_t d;
    const uint8_t *p;

    (void)state;
    ecl_reader_init(&r, in, sizeof in);
    assert_int_equal(ecl_reader_u8(&r, &a), ECL_OK);
    assert_int_equal(ecl_reader_u16(&r, &b), ECL_OK);
    assert_int_equal(ecl_reader_u32(&r, &c), ECL_OK);
    assert_int_equal(ecl_reader_u64(&r, &d), ECL_OK);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    assert_int_equal(c, 3);
    assert_int_equal(d, 4);
    assert_int_equal(ecl_reader_left(&r), 1);
    assert_int_equal(ecl_reader_bytes(&r, 2, &p), ECL_ERR_INVALID);
    assert_int_equal(ecl_reader_u16(&r, &b), ECL_ERR_INVALID);
    assert_int_equal(ecl_reader_bytes(&r, 1, &p), ECL_OK);
    assert_int_equal(p[0], 9);
    assert_int_equal(ecl_reader_u8(&r, &a), ECL_ERR_INVALID);
}

static void
test_hex(void **state)
{
    uint8_t out[3];
    char hex[7];

    (void)state;
    assert_int_equal(ecl_unhex("00aBff", 6, out, 3), ECL_OK);
    ecl_hex(out, 3, hex);
    assert_string_equal(hex, "00abff");
    assert_int_equal(ecl_unhex("00abf", 5, out, 3), ECL_ERR_INVALID);
    assert_int_equal(ecl_unhex("00abfg", 6, out, 3), ECL_ERR_INVALID);
}

static void
test_status_names(void **state)
{
    (void)state;
    assert_string_equal(ecl_status_name(ECL_OK), "ok");
    assert_string_equal(ecl_status_name(ECL_ERR_FULL), "storage_full");
    assert_string_equal(ecl_status_name((enum ecl_status)99), "internal");
    assert_int_equal(ecl_status_exit_code(ECL_ERR_INVALID), 65);
    assert_int_equal(ecl_status_exit_code(ECL_ERR_PERM), 77);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),      cmocka_unit_test(test_buf_grow),
        cmocka_unit_test(test_buf_truncate), cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_reader),       cmocka_unit_test(test_hex),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
