/*
 * amazon_connect: Amazon Connect, in both of its Salesforce forms.
 *
 * - Service Cloud Voice with Amazon Connect: a reqVendorInfoApiName naming
 *   Amazon Connect and a reqHvcc section with the instance, its region and
 *   the IAM roles (as AWS's and Salesforce's template,
 *   amazon_connect_partner_telephony_cc_import.xml, carries them).
 * - The Amazon Connect CTI Adapter (Open CTI): a managed package whose
 *   Visualforce page AC_LightningAdapter hosts the Contact Control Panel.
 *
 * It reaches no AWS service: it checks forms, renders the CCP's URL, and
 * maps Amazon Connect contact events.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/adapter_util.h"

static int ac_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return SB_ADAPTER_OK;
}

static void ac_fini(void *state)
{
    (void)state;
}

#define HVCC "reqHvcc"
/* The Service Cloud Voice form, with the template's defaults. */
static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqVendorInfoApiName", "Conversation Vendor Info Developer Name",
     SB_ADAPTER_SETTING_REQUIRED, "c__AMAZON_CONNECT",
     "the ConversationVendorInfo of Amazon Connect (c__AMAZON_CONNECT)"},
    {HVCC, "reqInstanceName", "Instance Name", SB_ADAPTER_SETTING_REQUIRED, "my-instance",
     "the Amazon Connect instance alias: letters, digits and '-'"},
    {HVCC, "reqInstanceId", "Instance ID", SB_ADAPTER_SETTING_REQUIRED,
     "00000000-0000-0000-0000-000000000000", "the instance's id, a UUID"},
    {HVCC, "reqRegion", "Region", SB_ADAPTER_SETTING_REQUIRED, "us-west-2",
     "an AWS region such as us-west-2"},
    {HVCC, "reqIdentityUrl", "Identity URL", 0, "https://example.my.salesforce.com/idp/login",
     "an https URL: the identity provider's login"},
    {HVCC, "reqAmazonConnectManagementRole", "Amazon Connect Management Role", 0,
     "arn:aws:iam::123456789012:role/SCVAmazonConnectManagementRole",
     "an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME"},
    {HVCC, "reqInstanceRecordingRole", "Instance Recording Role", 0,
     "arn:aws:iam::123456789012:role/ConnectCallRole", "an IAM role ARN"},
    {HVCC, "reqUniversalCallRecordingAccess", "Universal Call Recording Access", 0, "false",
     "true or false"},
    {HVCC, "reqLongDistPrefix", "Long Distance Prefix", 0, "+1", "a dialing prefix"},
};

static size_t ac_describe(void *state, const sb_adapter_setting **out)
{
    (void)state;
    *out = settings;
    return sizeof(settings) / sizeof(settings[0]);
}

static bool is_scv(const sb_adapter_callcenter *cc)
{
    return sbu_value(cc, "reqGeneralInfo", "reqVendorInfoApiName") != NULL;
}

static int ac_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    const char *vendor = sbu_value(cc, "reqGeneralInfo", "reqVendorInfoApiName");
    if (vendor && strstr(vendor, "AMAZON_CONNECT"))
        return 95;
    if (sbu_value(cc, HVCC, "reqInstanceId") ||
        sbu_value(cc, HVCC, "reqAmazonConnectManagementRole"))
        return 90;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    const char *ns = sbu_value(cc, NULL, "reqPackageNamespace");
    if ((url && strstr(url, "AC_LightningAdapter")) || (ns && strcmp(ns, "amazonconnect") == 0))
        return 95;
    return 0;
}

/* us-west-2, eu-central-1, us-gov-west-1, ap-southeast-2, ... */
static bool is_region(const char *r)
{
    static const char *const directions[] = {"north",     "south",     "east",      "west",
                                             "central",   "northeast", "southeast", "northwest",
                                             "southwest", NULL};
    if (r == NULL || strlen(r) < 9 || !islower((unsigned char)r[0]) ||
        !islower((unsigned char)r[1]) || r[2] != '-')
        return false;
    const char *p = r + 3;
    if (strncmp(p, "gov-", 4) == 0)
        p += 4;
    for (size_t i = 0; directions[i]; i++) {
        size_t n = strlen(directions[i]);
        if (strncmp(p, directions[i], n) == 0 && p[n] == '-' && isdigit((unsigned char)p[n + 1]) &&
            p[n + 2] == '\0')
            return true;
    }
    return false;
}

/* arn:aws:iam::123456789012:role/NAME */
static bool is_role_arn(const char *arn)
{
    if (arn == NULL || strncmp(arn, "arn:aws:iam::", 13) != 0)
        return false;
    const char *account = arn + 13;
    for (int i = 0; i < 12; i++)
        if (!isdigit((unsigned char)account[i]))
            return false;
    return strncmp(account + 12, ":role/", 6) == 0 && account[18] != '\0';
}

static bool is_bool(const char *v)
{
    return v == NULL || strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
}

static int ac_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    int problems = 0;
    if (!is_scv(cc)) {
        /* The CTI Adapter's Visualforce page, on Salesforce's domains. */
        const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
        problems += sbu_require(
            sink,
            sbu_https_on(url, "visualforce.com") || sbu_https_on(url, "force.com") ||
                sbu_https_on(url, "salesforce.com") || (url && strncmp(url, "/apex/", 6) == 0),
            "reqGeneralInfo", "reqAdapterUrl",
            "the CTI Adapter's page is https on visualforce.com, force.com or salesforce.com "
            "(or /apex/AC_LightningAdapter)");
        return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
    }
    problems +=
        sbu_require(sink,
                    sbu_only(sbu_value(cc, HVCC, "reqInstanceName"),
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"),
                    HVCC, "reqInstanceName", "the instance alias is letters, digits and '-'");
    problems +=
        sbu_require(sink, sbu_is_uuid(sbu_value(cc, HVCC, "reqInstanceId")), HVCC, "reqInstanceId",
                    "the instance id is a UUID (Amazon Connect console > instance ARN)");
    problems += sbu_require(sink, is_region(sbu_value(cc, HVCC, "reqRegion")), HVCC, "reqRegion",
                            "the region is an AWS region name such as us-west-2");
    const char *idp = sbu_value(cc, HVCC, "reqIdentityUrl");
    problems += sbu_require(sink, idp == NULL || strncmp(idp, "https://", 8) == 0, HVCC,
                            "reqIdentityUrl", "the identity URL is https");
    static const char *const roles[] = {"reqAmazonConnectManagementRole", "reqUpdateCredentialRole",
                                        "reqInstanceRecordingRole", "reqSCVS3Role", NULL};
    for (size_t i = 0; roles[i]; i++) {
        const char *arn = sbu_value(cc, HVCC, roles[i]);
        problems += sbu_require(sink, arn == NULL || is_role_arn(arn), HVCC, roles[i],
                                "an IAM role ARN is arn:aws:iam::ACCOUNT:role/NAME, with a "
                                "12-digit account");
    }
    static const char *const flags[] = {"reqUniversalCallRecordingAccess", "reqThirdPartyIDP",
                                        "reqPresenceStatusSyncAccess", NULL};
    for (size_t i = 0; flags[i]; i++)
        problems += sbu_require(sink, is_bool(sbu_value(cc, HVCC, flags[i])), HVCC, flags[i],
                                "this is true or false");
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

static int ac_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                     const sb_adapter_sink *sink)
{
    (void)state;
    char url[1024] = "";
    if (is_scv(cc)) {
        /* The instance's Contact Control Panel. */
        const char *alias = sbu_value(cc, HVCC, "reqInstanceName");
        snprintf(url, sizeof(url), "https://");
        sbu_url_append(url, sizeof(url), alias ? alias : "");
        strncat(url, ".my.connect.aws/ccp-v2/", sizeof(url) - strlen(url) - 1);
        sink->set(sink->ctx, "softphone", "service_cloud_voice");
        const char *region = sbu_value(cc, HVCC, "reqRegion");
        if (region)
            sink->set(sink->ctx, "region", region);
    } else {
        const char *page = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
        snprintf(url, sizeof(url), "%s", page ? page : "");
        sink->set(sink->ctx, "softphone", "open_cti");
    }
    sink->set(sink->ctx, "adapter_url", url);
    sink->set(sink->ctx, "agent", user);
    return SB_ADAPTER_OK;
}

/* Amazon Connect contact events (EventBridge "Amazon Connect Contact Event"):
 * {"detail": {"eventType", "contactId", "initiationMethod",
 *  "customerEndpoint": {"address"}, "systemEndpoint": {"address"}, ...}} */
static void set_if(const sb_adapter_sink *sink, const char *key, json_t *value)
{
    if (json_is_string(value))
        sink->set(sink->ctx, key, json_string_value(value));
}

/*
 * Service Cloud Voice's Telephony REST API: the bodies a partner telephony
 * system sends to create a voice call (callCenterApiName, vendorCallKey,
 * to, from, initiationMethod, startTime, participants), to update it when it
 * ends (endTime, disconnectReason; the key is in the URL, so the event
 * carries vendorCallKey beside them), and to add a transcript message
 * (messageId, message, startTime, participantId or senderType).
 */
static int scv_event(const sb_adapter_callcenter *cc, json_t *e, const sb_adapter_sink *sink)
{
    json_t *key = json_object_get(e, "vendorCallKey");
    const char *api_name = json_string_value(json_object_get(e, "callCenterApiName"));
    if (api_name != NULL && strcasecmp(api_name, cc->internal_name) != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "The event is for Call Center '%.80s', not '%.80s'; send it to that Call Center.",
                 api_name, cc->internal_name);
        sink->problem(sink->ctx, NULL, NULL, msg);
        return SB_ADAPTER_FAILED;
    }
    set_if(sink, "vendor_call_key", key);
    if (json_is_string(json_object_get(e, "message"))) {
        sink->set(sink->ctx, "action", "transcript");
        set_if(sink, "text", json_object_get(e, "message"));
        set_if(sink, "segment_id", json_object_get(e, "messageId"));
        set_if(sink, "at", json_object_get(e, "startTime"));
        json_t *who = json_object_get(e, "senderType");
        set_if(sink, "speaker", json_is_string(who) ? who : json_object_get(e, "participantId"));
        return SB_ADAPTER_OK;
    }
    if (json_object_get(e, "endTime") != NULL) {
        sink->set(sink->ctx, "action", "end");
        set_if(sink, "at", json_object_get(e, "endTime"));
        set_if(sink, "disposition", json_object_get(e, "disconnectReason"));
        return SB_ADAPTER_OK;
    }
    sink->set(sink->ctx, "action", "start");
    const char *method = json_string_value(json_object_get(e, "initiationMethod"));
    sink->set(sink->ctx, "call_type",
              method && strcasecmp(method, "Outbound") == 0   ? "outbound"
              : method && strcasecmp(method, "Internal") == 0 ? "internal"
                                                              : "inbound");
    set_if(sink, "from", json_object_get(e, "from"));
    set_if(sink, "to", json_object_get(e, "to"));
    set_if(sink, "at", json_object_get(e, "startTime"));
    /* The caller is the END_USER participant when "from" is not given. */
    json_t *participants = json_object_get(e, "participants");
    size_t i;
    json_t *p;
    json_array_foreach(participants, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (type && strcmp(type, "END_USER") == 0 && !json_is_string(json_object_get(e, "from")))
            set_if(sink, "from", json_object_get(p, "participantKey"));
    }
    return SB_ADAPTER_OK;
}

static int ac_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                         const sb_adapter_sink *sink)
{
    (void)state;
    json_t *root = json_loads(event ? event : "", 0, NULL);
    if (json_is_string(json_object_get(root, "vendorCallKey"))) {
        int rc = scv_event(cc, root, sink);
        json_decref(root);
        return rc;
    }
    json_t *d = json_object_get(root, "detail");
    if (!json_is_object(d))
        d = root;
    const char *type = json_string_value(json_object_get(d, "eventType"));
    const char *id = json_string_value(json_object_get(d, "contactId"));
    static const sbu_pair map[] = {{"INITIATED", "start"},
                                   {"CONNECTED_TO_AGENT", "accept"},
                                   {"DISCONNECTED", "end"},
                                   {NULL, NULL}};
    const char *action = sbu_put_call_action(sink, map, type, id);
    if (action == NULL) {
        json_decref(root);
        return SB_ADAPTER_IGNORED;
    }
    const char *method = json_string_value(json_object_get(d, "initiationMethod"));
    if (strcmp(action, "start") == 0)
        sink->set(sink->ctx, "call_type",
                  method && strcmp(method, "OUTBOUND") == 0 ? "outbound" : "inbound");
    const char *from =
        json_string_value(json_object_get(json_object_get(d, "customerEndpoint"), "address"));
    const char *to =
        json_string_value(json_object_get(json_object_get(d, "systemEndpoint"), "address"));
    if (from)
        sink->set(sink->ctx, "from", from);
    if (to)
        sink->set(sink->ctx, "to", to);
    if (strcmp(action, "end") == 0) {
        const char *reason = json_string_value(json_object_get(d, "disconnectReason"));
        sink->set(sink->ctx, "disposition", reason ? reason : "completed");
    }
    json_decref(root);
    return SB_ADAPTER_OK;
}

SB_ADAPTER_DEFINE(amazon_connect, "Amazon Web Services (Amazon Connect)", "1.0.0",
                  "Amazon Connect through Service Cloud Voice or the Amazon Connect CTI Adapter: "
                  "checks the instance, region and roles, renders the CCP URL, maps contact "
                  "events; it reaches no AWS service.",
                  .init = ac_init, .fini = ac_fini, .describe = ac_describe, .claim = ac_claim,
                  .validate = ac_validate, .render = ac_render, .call_event = ac_call_event)
