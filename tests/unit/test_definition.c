/*
 * Definition files: every file of the corpus (../shared/corpus/callcenters)
 * imports, or is refused with the precise reason; each tolerated deviation
 * and each rule has its own case; both forms round-trip.
 */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "definition.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (the corpus lives in ../shared beside the repository)", path);
    char *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

static bool has_warning(const sb_warnings_t *w, const char *text)
{
    for (size_t i = 0; i < w->n; i++)
        if (strstr(w->lines[i], text))
            return true;
    return false;
}

static void print_warnings(const sb_warnings_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        print_message("    warning: %s\n", w->lines[i]);
}

typedef struct corpus_case {
    const char *path;
    int want;         /* 0 or the refusal */
    const char *name; /* the internal name it gets */
    sb_cc_form_t form;
    sb_cc_kind_t kind;
    const char *warnings[4]; /* warnings it must carry */
} corpus_case_t;

static const corpus_case_t corpus[] = {
    {"salesforce-open-cti-demo-adapter/OpenCTI.callCenter",
     0,
     "OpenCTI",
     SB_CC_FORM_METADATA,
     SB_CC_KIND_OPEN_CTI,
     {"customSettings gives reqStandbyUrl"}},
    {"salesforce-open-cti-sample/callcenter.xml",
     0,
     "OpenCTI",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_OPEN_CTI,
     {NULL}},
    {"salesforce-demo-scv-connector/sampleContactCenter.xml",
     SB_E_INVALID_INTERNAL_NAME,
     NULL,
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_SERVICE_CLOUD_VOICE,
     {NULL}},
    {"salesforce-scv-examples/partner_telephony_cc_import.xml",
     0,
     "scvPartnerCC",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_SERVICE_CLOUD_VOICE,
     {"out of their sortOrder", "settings1 appears more than once"}},
    {"salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml",
     0,
     "AmazonConnectPartnerTelephonyCC",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_SERVICE_CLOUD_VOICE,
     {"reqTransferTargetForOmniFlowTransferDisplayName has 47 characters", "reqVersion starts"}},
    {"amazon-connect-cti-adapter/ACLightningAdapter.callCenter-meta.xml",
     0,
     "ACLightningAdapter",
     SB_CC_FORM_METADATA,
     SB_CC_KIND_OPEN_CTI,
     {"reqIsDefault starts with 'req'"}},
    {"cisco-webex-contact-center/OpenCTI.callCenter-meta.xml",
     0,
     "wxCcCallCenter",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_OPEN_CTI,
     {"declares the Metadata API namespace", "reqGeneralInfo has sortOrder 1",
      "objectFieldMapping is also in section"}},
    {"ringcentral-embeddable-demo/salesforce_demo-1.0.0_config_CallCenterDefinition.xml",
     0,
     "RingCentralAdapterOpenCTI",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_OPEN_CTI,
     {NULL}},
    {"twilio-click2dial/DemoAdapterTwilio.xml",
     0,
     "TwilioAdapter",
     SB_CC_FORM_IMPORT,
     SB_CC_KIND_OPEN_CTI,
     {NULL}},
    {"amc-technology/AMCSalesForceCallCenter.callCenter",
     0,
     "AMCSalesForceCallCenter",
     SB_CC_FORM_METADATA,
     SB_CC_KIND_OPEN_CTI,
     {"no reqAdapterUrl", "reqProgId starts"}},
};

/* Imports, exports in `form`, imports the export: the same Call Center, and
 * a second export gives the same bytes. */
static void round_trip(const sb_callcenter_t *cc, sb_cc_form_t form)
{
    char *xml, *again;
    size_t len, again_len;
    sb_err_t err;
    assert_int_equal(sb_definition_export(cc, form, &xml, &len, &err), 0);
    char filename[128];
    sb_definition_filename(cc, form, filename, sizeof(filename));
    sb_callcenter_t *back;
    sb_warnings_t w;
    if (sb_definition_import(xml, len, filename, NULL, &back, &w, &err) != 0)
        fail_msg("re-import of the %s export failed: %s\n%s", sb_cc_form_name(form), err.message,
                 xml);
    if (!sb_callcenter_same_definition(cc, back))
        fail_msg("the %s export of %s is not the same Call Center:\n%s", sb_cc_form_name(form),
                 sb_callcenter_internal_name(cc), xml);
    assert_int_equal(sb_definition_export(back, form, &again, &again_len, &err), 0);
    if (again_len != len || memcmp(again, xml, len) != 0)
        fail_msg("exports differ:\n%s\n----\n%s", xml, again);
    sb_warnings_free(&w);
    sb_callcenter_free(back);
    free(xml);
    free(again);
}

static void every_corpus_file(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const corpus_case_t *c = &corpus[i];
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", SB_CORPUS_DIR, c->path);
        size_t len;
        char *xml = read_file(path, &len);
        sb_callcenter_t *cc = NULL;
        sb_warnings_t w;
        sb_err_t err;
        sb_err_clear(&err);
        print_message("%s\n", c->path);
        int rc = sb_definition_import(xml, len, path, NULL, &cc, &w, &err);
        if (rc != c->want)
            fail_msg("%s: got %s (%s), want %s", c->path, sb_err_name(rc), err.message,
                     sb_err_name(c->want));
        if (rc != 0) {
            print_message("    refused: %s\n", err.message);
            assert_non_null(strstr(err.message, "line "));
            free(xml);
            continue;
        }
        print_warnings(&w);
        assert_string_equal(sb_callcenter_internal_name(cc), c->name);
        assert_int_equal(cc->form, c->form);
        assert_int_equal(sb_callcenter_kind(cc), c->kind);
        for (int k = 0; k < 4 && c->warnings[k]; k++)
            if (!has_warning(&w, c->warnings[k]))
                fail_msg("%s: no warning says '%s'", c->path, c->warnings[k]);
        round_trip(cc, SB_CC_FORM_IMPORT);
        round_trip(cc, SB_CC_FORM_METADATA);
        sb_warnings_free(&w);
        sb_callcenter_free(cc);
        free(xml);
    }
}

static void the_placeholder_file_imports_under_a_name_given(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/salesforce-demo-scv-connector/sampleContactCenter.xml",
             SB_CORPUS_DIR);
    size_t len;
    char *xml = read_file(path, &len);
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    assert_rc(sb_definition_import(xml, len, path, NULL, &cc, &w, &err), SB_E_INVALID_INTERNAL_NAME,
              err);
    assert_non_null(strstr(err.message, "line 3, <item name=\"reqInternalName\">"));
    assert_int_equal(sb_definition_import(xml, len, path, "DemoConnector", &cc, &w, &err), 0);
    assert_string_equal(sb_callcenter_internal_name(cc), "DemoConnector");
    assert_true(has_warning(&w, "replaced by 'DemoConnector'"));
    sb_warnings_free(&w);
    sb_callcenter_free(cc);
    free(xml);
}

/* An import-form file with the general section `general` and more sections. */
static int import(const char *xml, sb_callcenter_t **cc, sb_warnings_t *w, sb_err_t *err)
{
    return sb_definition_import(xml, strlen(xml), "test.xml", NULL, cc, w, err);
}

#define GENERAL(extra)                                                                             \
    "<callCenter><section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"General\">"              \
    "<item sortOrder=\"0\" name=\"reqInternalName\" label=\"Internal\">Ok</item>"                  \
    "<item sortOrder=\"1\" name=\"reqDisplayName\" label=\"Display\">Ok</item>"                    \
    "<item sortOrder=\"2\" name=\"reqAdapterUrl\" label=\"URL\">https://x</item>" extra            \
    "</section></callCenter>"

static void expect_refusal(const char *xml, int want, const char *text)
{
    sb_callcenter_t *cc = (sb_callcenter_t *)1;
    sb_warnings_t w;
    sb_err_t err;
    int rc = import(xml, &cc, &w, &err);
    if (rc != want)
        fail_msg("got %s (%s), want %s, for %s", sb_err_name(rc), err.message, sb_err_name(want),
                 xml);
    assert_null(cc);
    if (strstr(err.message, text) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.message, text);
}

static void expect_warning(const char *xml, const char *text)
{
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    if (import(xml, &cc, &w, &err) != 0)
        fail_msg("refused: %s", err.message);
    if (!has_warning(&w, text)) {
        print_warnings(&w);
        fail_msg("no warning says '%s'", text);
    }
    sb_warnings_free(&w);
    sb_callcenter_free(cc);
}

static void each_rule_is_refused_with_its_line(void **state)
{
    (void)state;
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"reqSoftphoneHeight\" label=\"H\">99"
                           "</item>"),
                   SB_E_OUT_OF_RANGE, "<item name=\"reqSoftphoneHeight\">");
    expect_refusal("<callCenter>\n<section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"G\">\n"
                   "<item sortOrder=\"0\" name=\"reqInternalName\" label=\"I\">1bad</item>\n"
                   "<item sortOrder=\"1\" name=\"reqDisplayName\" label=\"D\">x</item>\n"
                   "</section></callCenter>",
                   SB_E_INVALID_INTERNAL_NAME, "line 3, <item name=\"reqInternalName\">");
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"reqSalesforceCompatibilityMode\" "
                           "label=\"M\">Both</item>"),
                   SB_E_INVALID_COMPATIBILITY_MODE, "Both");
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"reqStandbyUrl\" label=\"S\">https://s"
                           "</item>"),
                   SB_E_STANDBY_WITHOUT_TIMEOUT, "reqStandbyUrl");
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"reqUseApi\" label=\"U\">yes</item>"),
                   SB_E_INVALID_VALUE, "true or false");
    /* Structure. */
    expect_refusal(GENERAL("<item sortOrder=\"5\" name=\"x\" label=\"X\">v</item>"),
                   SB_E_INVALID_DEFINITION, "3 is missing");
    expect_refusal(GENERAL("<item name=\"x\" label=\"X\">v</item>"), SB_E_INVALID_DEFINITION,
                   "needs a sortOrder");
    expect_refusal(GENERAL("<item sortOrder=\"3\" label=\"X\">v</item>"), SB_E_INVALID_DEFINITION,
                   "needs a name");
    expect_refusal(GENERAL("<item sortOrder=\"x3\" name=\"x\" label=\"X\">v</item>"),
                   SB_E_INVALID_DEFINITION, "not a whole number");
    expect_refusal(GENERAL("<thing/>"), SB_E_INVALID_DEFINITION, "<thing> is not expected");
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"x\" label=\"X\"><b/></item>"),
                   SB_E_INVALID_DEFINITION, "holds a value");
    expect_refusal("<callCenter><section sortOrder=\"0\" name=\"a\" label=\"A\"/>"
                   "<sections/></callCenter>",
                   SB_E_INVALID_DEFINITION, "mixes");
    expect_refusal("<callCenter><section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"G\">"
                   "<item sortOrder=\"1\" name=\"reqInternalName\" label=\"I\">Ok</item>"
                   "<item sortOrder=\"0\" name=\"reqDisplayName\" label=\"D\">Ok</item>"
                   "</section></callCenter>",
                   SB_E_INVALID_DEFINITION, "reqInternalName has sortOrder 1; it keeps 0");
    expect_refusal(GENERAL("<item sortOrder=\"3\" name=\"reqInternalName\" label=\"I\">B</item>"),
                   SB_E_INVALID_DEFINITION, "reqInternalName appears more than once");
    expect_refusal("<phone/>", SB_E_INVALID_DEFINITION, "root element is <phone>");
    expect_refusal("<callCenter><section", SB_E_INVALID_DEFINITION, "not well-formed");
    expect_refusal("<callCenter>text<section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"\"/>"
                   "</callCenter>",
                   SB_E_INVALID_DEFINITION, "text outside");
    expect_refusal("<callCenter></callCenter>", SB_E_MISSING_FIELD, "reqGeneralInfo");
    /* Entities: no DTD at all, so no billion laughs and no external files. */
    expect_refusal("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                   "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\n"
                   "<callCenter>&lol2;</callCenter>",
                   SB_E_INVALID_DEFINITION, "DOCTYPE");
    expect_refusal("<!DOCTYPE c SYSTEM \"file:///etc/passwd\"><callCenter/>",
                   SB_E_INVALID_DEFINITION, "DOCTYPE");
    /* Metadata API form. */
    expect_refusal("<CallCenter xmlns=\"http://soap.sforce.com/2006/04/metadata\">"
                   "<displayName>D</displayName></CallCenter>",
                   SB_E_INVALID_DEFINITION, "takes its internal name from its file name");
    expect_refusal("<CallCenter><customSettings>{nope</customSettings>"
                   "<displayName>D</displayName></CallCenter>",
                   SB_E_INVALID_DEFINITION, "not a JSON object");
    expect_refusal("<CallCenter><sections><items><name>a</name></items><weird/></sections>"
                   "</CallCenter>",
                   SB_E_INVALID_DEFINITION, "<weird> is not expected");
}

static void each_deviation_is_accepted_with_a_warning(void **state)
{
    (void)state;
    expect_warning(GENERAL("<item sortOrder=\"4\" name=\"a\" label=\"A\">1</item>"
                           "<item sortOrder=\"3\" name=\"b\" label=\"B\">2</item>"),
                   "out of their sortOrder");
    expect_warning(GENERAL("<item sortOrder=\"3\" name=\"s\" label=\"A\">1</item>"
                           "<item sortOrder=\"4\" name=\"s\" label=\"B\">2</item>"),
                   "s appears more than once");
    expect_warning(GENERAL("<item sortOrder=\"3\" name=\"reqSalesforceCompatabilityMode\" "
                           "label=\"M\">Lightning</item>"),
                   "misspelling");
    expect_warning(GENERAL("<item sortOrder=\"3\" name=\"x\" label=\"  Padded\">1</item>"),
                   "spaces around it");
    expect_warning(GENERAL("<item sortOrder=\"3\" name=\"reqDescription\" label=\"D\">d</item>"),
                   "reqDescription starts with 'req'");
    expect_warning(GENERAL("<item sortOrder=\"3\" "
                           "name=\"anItemNameThatIsLongerThanFortyCharacters1\" label=\"L\">1"
                           "</item>"),
                   "more than the 40");
    expect_warning("<callCenter><section sortOrder=\"1\" name=\"reqGeneralInfo\" label=\"G\">"
                   "<item sortOrder=\"0\" name=\"reqInternalName\" label=\"I\">Ok</item>"
                   "<item sortOrder=\"1\" name=\"reqDisplayName\" label=\"D\">Ok</item>"
                   "<item sortOrder=\"2\" name=\"reqAdapterUrl\" label=\"U\">u</item></section>"
                   "<section sortOrder=\"0\" name=\"p\" label=\"P\"><item sortOrder=\"0\" "
                   "name=\"reqAdapterUrl\" label=\"U\">u</item></section></callCenter>",
                   "reqGeneralInfo has sortOrder 1");
    /* The misspelled mode does not count: the mode is Classic. */
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    assert_int_equal(import(GENERAL("<item sortOrder=\"3\" name=\"reqSalesforceCompatabilityMode\""
                                    " label=\"M\">Lightning</item>"),
                            &cc, &w, &err),
                     0);
    assert_int_equal(sb_callcenter_compat_mode(cc), SB_CC_COMPAT_CLASSIC);
    sb_warnings_free(&w);
    sb_callcenter_free(cc);
}

static void values_keep_their_text(void **state)
{
    (void)state;
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    assert_int_equal(
        import(GENERAL("<item sortOrder=\"3\" name=\"cert\" label=\"C &amp; K\">-----BEGIN-----\n"
                       "AbC+/=\n-----END-----</item><item sortOrder=\"4\" name=\"e\" label=\"E\">"
                       "</item><item sortOrder=\"5\" name=\"q\" label=\"Q\">&lt;a&gt; \"b\" "
                       "&#233;</item>"),
               &cc, &w, &err),
        0);
    assert_string_equal(sb_callcenter_value(cc, NULL, "cert"),
                        "-----BEGIN-----\nAbC+/=\n-----END-----");
    assert_string_equal(sb_callcenter_find(cc, NULL, "cert")->label, "C & K");
    assert_string_equal(sb_callcenter_value(cc, NULL, "e"), "");
    assert_string_equal(sb_callcenter_value(cc, NULL, "q"), "<a> \"b\" \xc3\xa9");
    round_trip(cc, SB_CC_FORM_IMPORT);
    round_trip(cc, SB_CC_FORM_METADATA);
    sb_warnings_free(&w);
    sb_callcenter_free(cc);
}

/*
 * 64 sections of 256 items whose names repeat across and within sections:
 * 745,091 warnings and 1.2 s before they were bounded and the checks made
 * linear. Now the first SB_WARNINGS_KEEP are kept and the rest counted.
 */
static void repeated_items_give_bounded_warnings(void **state)
{
    (void)state;
    size_t cap = 2 << 20, n = 0;
    char *xml = malloc(cap);
    assert_non_null(xml);
    n += (size_t)snprintf(xml + n, cap - n, "<callCenter>\n");
    for (int sec = 0; sec < 64; sec++) {
        char name[32];
        snprintf(name, sizeof(name), sec == 0 ? "reqGeneralInfo" : "sec%d", sec);
        n += (size_t)snprintf(xml + n, cap - n,
                              "<section sortOrder=\"%d\" name=\"%s\" label=\"S\">\n", sec, name);
        if (sec == 0)
            n += (size_t)snprintf(
                xml + n, cap - n,
                "<item sortOrder=\"0\" name=\"reqInternalName\" label=\"I\">Big</item>\n"
                "<item sortOrder=\"1\" name=\"reqDisplayName\" label=\"D\">Big</item>\n"
                "<item sortOrder=\"2\" name=\"reqAdapterUrl\" "
                "label=\"U\">https://b.example.com</item>\n");
        for (int i = sec == 0 ? 3 : 0; i < 256; i++)
            n += (size_t)snprintf(xml + n, cap - n,
                                  "<item sortOrder=\"%d\" name=\"item%d\" label=\"L\">v</item>\n",
                                  i, i % 200);
        n += (size_t)snprintf(xml + n, cap - n, "</section>\n");
    }
    n += (size_t)snprintf(xml + n, cap - n, "</callCenter>\n");
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_rc(sb_definition_import(xml, n, "big.xml", NULL, &cc, &w, &err), 0, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    print_message("%zu bytes: %zu warnings kept of %zu in %ld ms\n", n, w.n, w.total, ms);
    assert_int_equal(w.n, SB_WARNINGS_KEEP);
    /* 63 sections x 200 names first seen in section 0, and 63 x 56 repeats within a section. */
    assert_true(w.total >= 63 * 200 + 63 * 56);
    assert_true(w.total < 20000);
    for (size_t i = 0; i < w.n; i++)
        assert_true(strlen(w.lines[i]) < SB_WARNING_MAX);
    /* The time is printed, not asserted: a loaded machine (or TSan) decides it;
     * the bound that matters is the warnings kept, above. */
    sb_warnings_free(&w);
    sb_callcenter_free(cc);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_corpus_file),
        cmocka_unit_test(the_placeholder_file_imports_under_a_name_given),
        cmocka_unit_test(each_rule_is_refused_with_its_line),
        cmocka_unit_test(each_deviation_is_accepted_with_a_warning),
        cmocka_unit_test(values_keep_their_text),
        cmocka_unit_test(repeated_items_give_bounded_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
