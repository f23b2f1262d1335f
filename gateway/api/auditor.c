/* Auditor API: placeholder until the auditor handlers land in this session. */
#include "app.h"

size_t
ecl_api_auditor_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    (void)app;
    (void)out;
    (void)cap;
    return 0;
}
