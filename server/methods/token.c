/* token.*: who may call what. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "methods.h"
#include "token.h"

static int pack_record(msgpack_packer *pk, const sb_token_record_t *rec, const char *secret)
{
    int rc = msgpack_pack_map(pk, secret ? 6 : 5);
    rc |= sb_pack_kv_str(pk, "id", rec->id);
    rc |= sb_pack_kv_str(pk, "org", rec->role == SB_ROLE_ADMIN ? NULL : rec->org);
    rc |= sb_pack_kv_str(pk, "role", sb_role_name(rec->role));
    rc |= sb_pack_kv_str(pk, "label", rec->label);
    rc |= sb_pack_kv_int(pk, "created", rec->created_ms);
    if (secret)
        rc |= sb_pack_kv_str(pk, "token", secret);
    return rc;
}

static int token_authenticate(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    sb_token_hash(sb_arg_str(call, "token"), hash);
    sb_token_record_t rec;
    int rc = sb_store_token_find(call->svc->store, hash, &rec, NULL);
    if (rc == -ENOENT)
        return sb_err_set(err, SB_E_UNAUTHENTICATED,
                          "That token is not valid: it was revoked, or mistyped. Ask the admin "
                          "for a token (token create).");
    if (rc != 0)
        return sb_err_default(err, rc);
    call->authenticated = true;
    call->new_token = rec;
    return pack_record(pk, &rec, NULL);
}

static int token_create(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_token_record_t rec = {.created_ms = (int64_t)time(NULL) * 1000};
    if (sb_role_parse(sb_arg_str(call, "role"), &rec.role) != 0 || rec.role == SB_ROLE_ADMIN)
        return sb_err_set(err, -EINVAL,
                          "A token's role is read_only or org_admin. (The admin token is the one "
                          "in the data directory.)");
    const char *label = sb_arg_str(call, "label");
    if (label != NULL && strlen(label) > SB_TOKEN_LABEL_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE, "A token's label has at most %d bytes.",
                          SB_TOKEN_LABEL_MAX);
    const char *org = sb_arg_str(call, "org");
    if (strlen(org) > SB_ORG_ID_MAX)
        return sb_err_set(err, SB_E_INVALID_ID, "The org id is longer than %d characters.",
                          SB_ORG_ID_MAX);
    memcpy(rec.org, org, strlen(org) + 1);
    snprintf(rec.label, sizeof(rec.label), "%s", label ? label : "");
    sb_token_new_id(rec.id);
    char secret[SB_TOKEN_TEXT_MAX + 1];
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    sb_token_generate(secret, hash);
    int rc = sb_store_token_put(call->svc->store, hash, &rec, err);
    if (rc == 0)
        rc = pack_record(pk, &rec, secret);
    memset(secret, 0, sizeof(secret));
    return rc;
}

static int token_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_token_record_t *rows;
    size_t n;
    int rc = sb_store_token_list(call->svc->store, &rows, &n, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 1) | sb_pack_str(pk, "tokens") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= pack_record(pk, &rows[i], NULL);
    free(rows);
    return rc;
}

static int token_revoke(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *id = sb_arg_str(call, "id");
    if (strcmp(id, "admin") == 0)
        return sb_err_set(err, -EINVAL,
                          "The admin token is not revoked through the API: delete admin.token in "
                          "the data directory and restart the server to make a new one.");
    int rc = sb_store_token_revoke(call->svc->store, id, err);
    if (rc == 0)
        call->ended_token_id = id; /* its connections close once this is durable */
    return rc == 0 ? msgpack_pack_map(pk, 1) | sb_pack_kv_str(pk, "revoked", id) : rc;
}

#define RECORD "{id, org (nil for the admin), role, label, created}"

static const sb_method_t methods[] = {
    {"token.authenticate",
     "Proves who the connection is; every other method needs it first. A failure is answered "
     "after a delay that doubles with each one (from 250 ms); three close the connection. Refused "
     "with CONNECTION_LIMIT when every slot open to the token is taken.",
     SB_ROLE_NONE,
     false,
     false,
     token_authenticate,
     {{"token", SB_ARG_STRING, true, "the token, as shown when it was created"}},
     RECORD,
     "UNAUTHENTICATED CONNECTION_LIMIT"},
    {"token.create",
     "Creates an org-scoped token. The token is in the result and nowhere else: only its hash "
     "is stored.",
     SB_ROLE_ADMIN,
     true,
     false,
     token_create,
     {{"org", SB_ARG_STRING, true, "the org it opens"},
      {"role", SB_ARG_STRING, true, "read_only or org_admin"},
      {"label", SB_ARG_STRING, false, "who or what uses it (at most 128 bytes)"}},
     RECORD " and token: the secret, shown this once",
     "NOT_FOUND INVALID_ARGUMENT"},
    {"token.list",
     "Lists every token, without secrets.",
     SB_ROLE_ADMIN,
     false,
     false,
     token_list,
     {{NULL, 0, false, NULL}},
     "{tokens: [" RECORD "]}",
     ""},
    {"token.revoke",
     "Revokes a token. Every connection authenticated with it is closed as soon as the revocation "
     "is durable, before this reply is sent; none of its requests is served after.",
     SB_ROLE_ADMIN,
     true,
     false,
     token_revoke,
     {{"id", SB_ARG_STRING, true, "the token's id (see token.list)"}},
     "{revoked: id}",
     "NOT_FOUND INVALID_ARGUMENT"},
};

const sb_method_slice_t sb__token_methods = {methods, sizeof(methods) / sizeof(methods[0])};
