/* JSON loading with Écluse's rules (DESIGN.md section 7: duplicates, depth, explicit length,
 * no echo of jansson's error text). */
#include <string.h>

#include "ecl/schema.h"

size_t
ecl_json_depth(const json_t *v, size_t stop_at)
{
    size_t max = 0;

    if (stop_at == 0) {
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child)
        {
            size_t d = ecl_json_depth(child, stop_at - 1);
            if (d > max) {
                max = d;
            }
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            size_t d = ecl_json_depth(child, stop_at - 1);
            if (d > max) {
                max = d;
            }
        }
        return max + 1;
    }
    return 0;
}

json_t *
ecl_json_load(const char *buf, size_t len, size_t max_depth, const char **why, int *line)
{
    json_error_t err;
    json_t *v;

    *why = NULL;
    if (line != NULL) {
        *line = 0;
    }
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL) {
        if (line != NULL) {
            *line = err.line;
        }
        switch (json_error_code(&err)) {
        case json_error_duplicate_key:
            *why = "a key appears twice in the same object";
            break;
        case json_error_invalid_utf8:
            *why = "the document is not valid UTF-8";
            break;
        case json_error_null_character:
        case json_error_null_byte_in_key:
            *why = "the document contains a NUL character";
            break;
        case json_error_premature_end_of_input:
            *why = "the document ends too early";
            break;
        case json_error_end_of_input_expected:
            *why = "there is data after the JSON value";
            break;
        case json_error_numeric_overflow:
            *why = "a number is too large";
            break;
        case json_error_stack_overflow:
            *why = "the document is nested too deeply";
            break;
        case json_error_out_of_memory:
            *why = "out of memory";
            break;
        case json_error_unknown:
        case json_error_cannot_open_file:
        case json_error_invalid_argument:
        case json_error_invalid_syntax:
        case json_error_invalid_format:
        case json_error_wrong_type:
        case json_error_item_not_found:
        case json_error_index_out_of_range:
        case json_error_null_value:
        default:
            *why = "the document is not valid JSON";
            break;
        }
        return NULL;
    }
    if (ecl_json_depth(v, max_depth + 1) > max_depth) {
        json_decref(v);
        *why = "the document is nested too deeply";
        return NULL;
    }
    return v;
}
