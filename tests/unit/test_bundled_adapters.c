/*
 * The bundled adapters (build/plugins), loaded by the host: each claims its
 * vendor's corpus files and no other, accepts good settings and refuses bad
 * ones naming the setting, and maps its vendor's call events.
 */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "plugin_host.h"

static sb_plugin_host_t *host;

static int load(void **state)
{
    (void)state;
    sb_err_t err;
    if (sb_plugin_host_new(SB_BUNDLED_PLUGIN_DIR, &host) != 0 ||
        sb_plugin_host_load(host, NULL, NULL, &err) != 0)
        return -1;
    return 0;
}

static int unload(void **state)
{
    (void)state;
    sb_plugin_host_free(host);
    return 0;
}

static sb_callcenter_t *import_file(const char *path, const char *name)
{
    char full[512];
    snprintf(full, sizeof(full), "%s/%s", SB_CORPUS_DIR, path);
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", full);
    static char data[1 << 16];
    size_t len = fread(data, 1, sizeof(data), f);
    fclose(f);
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    if (sb_definition_import(data, len, full, name, &cc, &w, &err) != 0)
        fail_msg("%s: %s", path, err.message);
    sb_warnings_free(&w);
    return cc;
}

static void each_corpus_file_is_claimed_by_its_vendor(void **state)
{
    (void)state;
    const struct {
        const char *path, *adapter;
    } cases[] = {
        {"salesforce-open-cti-demo-adapter/OpenCTI.callCenter", "demo"},
        {"amazon-connect-cti-adapter/ACLightningAdapter.callCenter-meta.xml", "amazon_connect"},
        {"salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml",
         "amazon_connect"},
        {"cisco-webex-contact-center/OpenCTI.callCenter-meta.xml", "cisco_webex"},
        {"ringcentral-embeddable-demo/salesforce_demo-1.0.0_config_CallCenterDefinition.xml",
         "ringcentral"},
        {"salesforce-open-cti-sample/callcenter.xml", ""},
        {"twilio-click2dial/DemoAdapterTwilio.xml", ""},
        {"amc-technology/AMCSalesForceCallCenter.callCenter", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_callcenter_t *cc = import_file(cases[i].path, NULL);
        char best[SB_PLUGIN_NAME_MAX + 1];
        int confidence;
        sb_err_t err;
        assert_rc(sb_plugin_host_claim(host, cc, best, &confidence, &err), 0, err);
        if (strcmp(best, cases[i].adapter) != 0)
            fail_msg("%s: claimed by '%s', want '%s'", cases[i].path, best, cases[i].adapter);
        sb_callcenter_free(cc);
    }
}

/* The adapter's template with some values changed: its problems, or "". */
static void validate_changed(const char *adapter, const sb_cc_change_t *changes, size_t n, int want,
                             const char *says)
{
    sb_callcenter_t *cc;
    sb_err_t err;
    assert_rc(sb_plugin_host_template(host, adapter, &cc, &err), 0, err);
    for (size_t i = 0; i < n; i++) {
        sb_cc_item_t *item =
            (sb_cc_item_t *)sb_callcenter_find(cc, changes[i].section, changes[i].item);
        assert_non_null(item);
        free(item->value);
        item->value = strdup(changes[i].value);
    }
    int rc = sb_plugin_host_validate(host, adapter, cc, &err);
    if (rc != want)
        fail_msg("%s: got %s (%s)", adapter, sb_err_name(rc), err.message);
    if (want != 0 && strstr(err.message, says) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", adapter, err.message, says);
    sb_callcenter_free(cc);
}

static void amazon_connect_settings(void **state)
{
    (void)state;
    sb_cc_change_t good[] = {
        {"reqHvcc", "reqRegion", "eu-central-1"},
        {"reqHvcc", "reqInstanceId", "3f1b2c4d-5e6f-4a1b-9c2d-0e1f2a3b4c5d"},
        {"reqHvcc", "reqAmazonConnectManagementRole", "arn:aws:iam::210987654321:role/Manage"}};
    validate_changed("amazon_connect", good, 3, 0, NULL);
    sb_cc_change_t region[] = {{"reqHvcc", "reqRegion", "mars-north-1x"}};
    validate_changed("amazon_connect", region, 1, SB_E_INVALID_VALUE, "/reqHvcc/reqRegion");
    sb_cc_change_t id[] = {{"reqHvcc", "reqInstanceId", "AmazonConnectInstanceId"}};
    validate_changed("amazon_connect", id, 1, SB_E_INVALID_VALUE, "/reqHvcc/reqInstanceId");
    sb_cc_change_t arn[] = {
        {"reqHvcc", "reqInstanceRecordingRole", "arn:aws:iam::XXXXXXXXXXXX:role/Call"}};
    validate_changed("amazon_connect", arn, 1, SB_E_INVALID_VALUE, "12-digit account");
    /* The Open CTI form: the CTI Adapter's page on Salesforce's domains. */
    sb_callcenter_t *cti =
        import_file("amazon-connect-cti-adapter/ACLightningAdapter.callCenter-meta.xml", NULL);
    sb_err_t err;
    assert_rc(sb_plugin_host_validate(host, "amazon_connect", cti, &err), 0, err);
    sb_callcenter_free(cti);
}

static void amazon_connect_events(void **state)
{
    (void)state;
    sb_callcenter_t *cc;
    sb_err_t err;
    assert_rc(sb_plugin_host_template(host, "amazon_connect", &cc, &err), 0, err);
    sb_plugin_kv_t *kv;
    size_t n;
    assert_rc(sb_plugin_host_call_event(
                  host, "amazon_connect", cc,
                  "{\"detail-type\": \"Amazon Connect Contact Event\", \"detail\": {\"eventType\": "
                  "\"INITIATED\", \"contactId\": \"c-1\", \"initiationMethod\": \"INBOUND\", "
                  "\"customerEndpoint\": {\"address\": \"+14155550100\"}, \"systemEndpoint\": "
                  "{\"address\": \"+18005550199\"}}}",
                  &kv, &n, &err),
              0, err);
    const char *want[][2] = {{"action", "start"},
                             {"vendor_call_key", "c-1"},
                             {"call_type", "inbound"},
                             {"from", "+14155550100"},
                             {"to", "+18005550199"}};
    for (size_t w = 0; w < 5; w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(kv[i].key, want[w][0]) == 0 && strcmp(kv[i].value, want[w][1]) == 0;
        if (!found)
            fail_msg("no %s=%s", want[w][0], want[w][1]);
    }
    free(kv);
    assert_rc(sb_plugin_host_call_event(host, "amazon_connect", cc,
                                        "{\"detail\": {\"eventType\": \"QUEUED\", \"contactId\": "
                                        "\"c-1\"}}",
                                        &kv, &n, &err),
              -ENOMSG, err);
    sb_callcenter_free(cc);
}

static void demo_settings_and_events(void **state)
{
    (void)state;
    sb_cc_change_t twilio[] = {{"reqPhoneDemoSettings", "reqProvider", "Twilio"}};
    validate_changed("demo", twilio, 1, SB_E_INVALID_VALUE, "reqProviderAccount");
    sb_cc_change_t skype[] = {{"reqPhoneDemoSettings", "reqProvider", "Skype"}};
    validate_changed("demo", skype, 1, SB_E_INVALID_VALUE, "/reqPhoneDemoSettings/reqProvider");
    sb_callcenter_t *cc;
    sb_err_t err;
    assert_rc(sb_plugin_host_template(host, "demo", &cc, &err), 0, err);
    sb_plugin_kv_t *kv;
    size_t n;
    assert_rc(sb_plugin_host_call_event(host, "demo", cc,
                                        "{\"event\": \"hangup\", \"callId\": \"d-9\", \"reason\": "
                                        "\"busy\"}",
                                        &kv, &n, &err),
              0, err);
    assert_string_equal(kv[0].value, "end");
    assert_string_equal(kv[n - 1].key, "disposition");
    assert_string_equal(kv[n - 1].value, "busy");
    free(kv);
    sb_callcenter_free(cc);
}

static void cisco_webex_and_ringcentral(void **state)
{
    (void)state;
    sb_cc_change_t region[] = {{"wxCCReqData", "openCtiWxCCRegion", "mars1"}};
    validate_changed("cisco_webex", region, 1, SB_E_INVALID_VALUE,
                     "/wxCCReqData/openCtiWxCCRegion");
    sb_cc_change_t url[] = {{"reqGeneralInfo", "reqAdapterUrl", "http://evil.example.com/"}};
    validate_changed("cisco_webex", url, 1, SB_E_INVALID_VALUE, "ciscoccservice.com");
    sb_cc_change_t notes[] = {{"wxCCCallActivity", "recordCallLiveNotes", "maybe"}};
    validate_changed("cisco_webex", notes, 1, SB_E_INVALID_VALUE, "true or false");
    sb_callcenter_t *cisco =
        import_file("cisco-webex-contact-center/OpenCTI.callCenter-meta.xml", NULL);
    sb_err_t err;
    assert_rc(sb_plugin_host_validate(host, "cisco_webex", cisco, &err), 0, err);
    sb_callcenter_free(cisco);

    sb_cc_change_t widget[] = {{"reqGeneralInfo", "reqAdapterUrl",
                                "https://ringcentral.github.io/ringcentral-embeddable/app.html"},
                               {"ringCentralSettings", "rcClientId", "abc_DEF-123"}};
    validate_changed("ringcentral", widget, 2, 0, NULL);
    sb_cc_change_t elsewhere[] = {
        {"reqGeneralInfo", "reqAdapterUrl", "https://ringcentral.evil.com/"}};
    validate_changed("ringcentral", elsewhere, 1, SB_E_INVALID_VALUE,
                     "/reqGeneralInfo/reqAdapterUrl");
    sb_callcenter_t *rc = import_file(
        "ringcentral-embeddable-demo/salesforce_demo-1.0.0_config_CallCenterDefinition.xml", NULL);
    assert_rc(sb_plugin_host_validate(host, "ringcentral", rc, &err), 0, err);
    sb_plugin_kv_t *kv;
    size_t n;
    assert_rc(sb_plugin_host_call_event(host, "ringcentral", rc,
                                        "{\"type\": \"rc-call-ring-notify\", \"call\": "
                                        "{\"sessionId\": \"s-1\", \"direction\": \"Inbound\", "
                                        "\"from\": {\"phoneNumber\": \"+16505550100\"}}}",
                                        &kv, &n, &err),
              0, err);
    assert_string_equal(kv[0].value, "start");
    assert_string_equal(kv[1].value, "s-1");
    assert_string_equal(kv[2].value, "+16505550100");
    free(kv);
    sb_callcenter_free(rc);
}

static void the_table_driven_vendors(void **state)
{
    (void)state;
    const struct {
        const char *adapter;
        sb_cc_change_t bad;
        const char *says;
        const char *event;
        const char *from;
    } cases[] = {
        {"five9",
         {"five9Settings", "five9Domain", "app.five9.org"},
         "/five9Settings/five9Domain",
         "{\"event\": \"callStarted\", \"callData\": {\"callId\": \"f-1\", \"ani\": "
         "\"+15550001\", \"type\": \"INBOUND\"}}",
         "+15550001"},
        {"genesys_cloud",
         {"genesysSettings", "genesysRegion", "mars.pure.cloud"},
         "/genesysSettings/genesysRegion",
         "{\"type\": \"Interaction\", \"category\": \"add\", \"data\": {\"id\": \"g-1\", "
         "\"ani\": \"+15550002\", \"direction\": \"Inbound\"}}",
         "+15550002"},
        {"nice_cxone",
         {"cxoneSettings", "cxoneBusinessUnit", "BU-7"},
         "/cxoneSettings/cxoneBusinessUnit",
         "{\"Type\": \"CallContactEvent\", \"Status\": \"Incoming\", \"ContactID\": "
         "\"n-1\", \"ANI\": \"+15550003\"}",
         "+15550003"},
        {"talkdesk",
         {"reqGeneralInfo", "reqAdapterUrl", "https://mytalkdesk.com.evil.net/"},
         "/reqGeneralInfo/reqAdapterUrl",
         "{\"event\": \"call_ringing\", \"data\": {\"call_id\": \"t-1\", "
         "\"contact_phone_number\": \"+15550004\", \"type\": \"inbound\"}}",
         "+15550004"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        validate_changed(cases[i].adapter, NULL, 0, 0, NULL);
        validate_changed(cases[i].adapter, &cases[i].bad, 1, SB_E_INVALID_VALUE, cases[i].says);
        sb_callcenter_t *cc;
        sb_err_t err;
        assert_rc(sb_plugin_host_template(host, cases[i].adapter, &cc, &err), 0, err);
        sb_plugin_kv_t *kv;
        size_t n;
        assert_rc(
            sb_plugin_host_call_event(host, cases[i].adapter, cc, cases[i].event, &kv, &n, &err), 0,
            err);
        assert_string_equal(kv[0].value, "start");
        bool from = false;
        for (size_t k = 0; k < n; k++)
            from |= strcmp(kv[k].key, "from") == 0 && strcmp(kv[k].value, cases[i].from) == 0;
        assert_true(from);
        free(kv);
        assert_rc(sb_plugin_host_call_event(host, cases[i].adapter, cc, "{}", &kv, &n, &err),
                  -ENOMSG, err);
        sb_callcenter_free(cc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_corpus_file_is_claimed_by_its_vendor),
        cmocka_unit_test(amazon_connect_settings),
        cmocka_unit_test(amazon_connect_events),
        cmocka_unit_test(demo_settings_and_events),
        cmocka_unit_test(cisco_webex_and_ringcentral),
        cmocka_unit_test(the_table_driven_vendors),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
