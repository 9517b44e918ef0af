#pragma once
/*
 * Call Center definition files: the XML that partners ship, in its two
 * forms, parsed with libxml2 and written with its text writer.
 *
 *   import form    <callCenter><section sortOrder="0" name=".." label="..">
 *                    <item sortOrder="0" name=".." label="..">value</item>...
 *   Metadata API   <CallCenter xmlns="http://soap.sforce.com/2006/04/metadata">
 *                    <adapterUrl/> <customSettings/> <displayName/> <displayNameLabel/>
 *                    <internalNameLabel/> <sections><items><label/><name/><value/></items>
 *                    <label/><name/></sections>...   (internal name: from the file name)
 *
 * The form is told by the structure (section or sections elements), not by
 * the namespace. docs/definitions.md lists every rule and every deviation
 * that real files show and that the importer accepts with a warning.
 */

#include <stddef.h>

#include "callcenter.h"
#include "error.h"

#define SB_DEFINITION_MAX_BYTES (1 << 20) /* a definition file, at most */
#define SB_METADATA_NAMESPACE "http://soap.sforce.com/2006/04/metadata"

#define SB_WARNINGS_KEEP 100 /* warnings kept of one file (the rest are counted) */
#define SB_WARNING_MAX 600   /* bytes of one warning, at most */

/** Warnings about what a file does that the documentation forbids but Salesforce accepts. */
typedef struct sb_warnings {
    char **lines; /* [owned] "line 7: ..."; the first SB_WARNINGS_KEEP */
    size_t n;
    size_t total; /* every warning the file gave, kept or not */
} sb_warnings_t;

void sb_warnings_free(sb_warnings_t *warnings);

/**
 * Reads a definition file of `len` bytes. `filename` (may be NULL) gives a
 * Metadata API file its internal name (NAME.callCenter-meta.xml,
 * NAME.callCenter); `internal_name` (may be NULL) overrides the name in
 * either form. On success *out is the Call Center [owned], validated by every
 * rule, with its form and its warnings in *warnings (free them with
 * sb_warnings_free). A file that breaks a rule is refused with the rule's
 * code and a sentence naming the element and its line; SB_E_INVALID_DEFINITION
 * for a file that is not a definition at all.
 */
int sb_definition_import(const char *xml, size_t len, const char *filename,
                         const char *internal_name, sb_callcenter_t **out, sb_warnings_t *warnings,
                         sb_err_t *err);

/**
 * Writes `cc` as a definition file in `form`. *xml is [owned: free()],
 * NUL-terminated, *len bytes. Returns 0 or -ENOMEM.
 */
int sb_definition_export(const sb_callcenter_t *cc, sb_cc_form_t form, char **xml, size_t *len,
                         sb_err_t *err);

/** The file name a partner would give the export: NAME.xml or NAME.callCenter-meta.xml. */
void sb_definition_filename(const sb_callcenter_t *cc, sb_cc_form_t form, char *out, size_t cap);
