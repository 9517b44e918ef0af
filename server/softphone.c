#include "softphone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void sb_softphone_render(void *plugins, const char *org, const sb_callcenter_t *cc,
                         sb_view_render_t *out)
{
    sb_plugin_host_t *host = plugins;
    sb_plugin_kv_t *kv = NULL;
    size_t n = 0;
    sb_err_t err;
    sb_err_clear(&err);
    int rc =
        sb_plugin_host_render(host, cc->adapter, cc, SB_ADAPTER_USER_PLACEHOLDER, &kv, &n, &err);
    if (rc == -ENOENT) { /* not loaded */
        out->loaded = false;
    } else if (rc == SB_E_ADAPTER_UNAVAILABLE) {
        sb_log(SB_LOG_WARN,
               "adapter %s could not render Call Center %s of org %s (%s); its "
               "softphone keeps the stored adapter URL until the next refresh",
               cc->adapter, cc->id.s, org, err.message);
    } else if (rc != 0) {
        out->refused = true;
        snprintf(out->detail, sizeof(out->detail), "%s", err.message);
    } else {
        for (size_t i = 0; i < n; i++)
            if (strcmp(kv[i].key, "adapter_url") == 0)
                snprintf(out->adapter_url, sizeof(out->adapter_url), "%s", kv[i].value);
    }
    free(kv);
}
