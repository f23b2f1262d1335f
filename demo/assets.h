/* The demo files of demo/, embedded by cmake/embed.cmake. */
#ifndef ECL_DEMO_ASSETS_H
#define ECL_DEMO_ASSETS_H

#include <stddef.h>

extern const char ecl_asset_citizens_schema[];
extern const size_t ecl_asset_citizens_schema_len;
extern const char ecl_asset_benefits_schema[];
extern const size_t ecl_asset_benefits_schema_len;
extern const char ecl_asset_policy[];
extern const size_t ecl_asset_policy_len;

#endif
