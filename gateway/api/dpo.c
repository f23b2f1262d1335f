/* DPO API: placeholder until the DPO handlers land in this session. */
#include "app.h"

enum ecl_status
ecl_api_dpo_init(struct ecl_app *app)
{
    (void)app;
    return ECL_OK;
}

void
ecl_api_dpo_free(struct ecl_app *app)
{
    (void)app;
}

size_t
ecl_api_dpo_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    (void)app;
    (void)out;
    (void)cap;
    return 0;
}
