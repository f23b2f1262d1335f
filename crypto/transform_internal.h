/* Shared by crypto/pseudonym.c, crypto/token.c and crypto/transform*.c only. */
#ifndef ECL_TRANSFORM_INTERNAL_H
#define ECL_TRANSFORM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/transform.h"

/* BLAKE2b-256(key = root, u8 len(label) || label || ext): every key below a root key. */
void ecl_transform_subkey(const uint8_t root[ECL_KEY_LEN], const char *label, const uint8_t *ext,
                          size_t ext_len, uint8_t out[ECL_KEY_LEN]);

/* The pseudonym index key and seal key of a pseudonym root (docs/transforms.md). */
void ecl_transform_index_keys(const uint8_t root[ECL_KEY_LEN], uint8_t index_key[ECL_KEY_LEN],
                              uint8_t seal_key[ECL_KEY_LEN]);

#endif
