/*
 * libFuzzer target: the definition importer. Any bytes must be imported or
 * refused cleanly; whatever imports must export in both forms, and each
 * export must import again as the same Call Center.
 */
#include <stdint.h>
#include <stdlib.h>

#include "definition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_callcenter_t *cc = NULL;
    sb_warnings_t warnings;
    sb_err_t err;
    /* Half the inputs as a Metadata API file, so that both forms are reached. */
    const char *filename = size % 2 ? "Fuzz.callCenter-meta.xml" : "fuzz.xml";
    if (sb_definition_import((const char *)data, size, filename, NULL, &cc, &warnings, &err) != 0)
        return 0;
    for (int form = SB_CC_FORM_IMPORT; form <= SB_CC_FORM_METADATA; form++) {
        char *xml = NULL;
        size_t len = 0;
        if (sb_definition_export(cc, (sb_cc_form_t)form, &xml, &len, &err) != 0)
            abort();
        char name[300];
        sb_definition_filename(cc, (sb_cc_form_t)form, name, sizeof(name));
        sb_callcenter_t *back = NULL;
        sb_warnings_t again;
        if (sb_definition_import(xml, len, name, NULL, &back, &again, &err) != 0 ||
            !sb_callcenter_same_definition(cc, back))
            abort(); /* an export that does not import as the same Call Center */
        sb_warnings_free(&again);
        sb_callcenter_free(back);
        free(xml);
    }
    sb_warnings_free(&warnings);
    sb_callcenter_free(cc);
    return 0;
}
