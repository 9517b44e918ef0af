#include "metrics_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"

/* A scraper and a health check or two at once; more wait in the backlog. */
#define HTTP_CONNECTIONS_MAX 16
/* A client that opens a connection and sends nothing holds it this long. */
#define HTTP_TIMEOUT_S 10

struct sb_metrics_http {
    struct MHD_Daemon *daemon;
};

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status,
                             const char *content_type, char *body, size_t len)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (response == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *connection, unsigned status,
                                  const char *text)
{
    char *body = strdup(text);
    if (body == NULL)
        return MHD_NO;
    return reply(connection, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result handle_cb(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    (void)upload;
    (void)state;
    if (*upload_size != 0)
        return MHD_NO; /* nothing here takes a body */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body;
        size_t len;
        if (sb_metrics_render(&body, &len) != 0)
            return reply_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
                     len);
    }
    if (strcmp(url, "/healthz") == 0)
        return reply_text(connection, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        char why[160], line[176];
        bool ready = sb_metrics_ready(why, sizeof(why));
        snprintf(line, sizeof(line), "%s\n", why);
        return reply_text(connection, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, line);
    }
    return reply_text(connection, MHD_HTTP_NOT_FOUND,
                      "not found: try /metrics, /healthz or /readyz\n");
}

/* "HOST:PORT" or "[HOST]:PORT" into host and port. */
static int split_address(const char *address, char *host, size_t host_size, char *port,
                         size_t port_size)
{
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= port_size)
        return -EINVAL;
    const char *start = address, *end = colon;
    if (address[0] == '[') {
        start = address + 1;
        if (end == start || end[-1] != ']')
            return -EINVAL;
        end--;
    }
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= host_size)
        return -EINVAL;
    memcpy(host, start, n);
    host[n] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

int sb_metrics_http_start(const char *address, sb_metrics_http_t **out, unsigned *port,
                          sb_err_t *err)
{
    *out = NULL;
    *port = 0;
    char host[256], service[16];
    if (split_address(address, host, sizeof(host), service, sizeof(service)) != 0)
        return sb_err_set(err, -EINVAL,
                          "--metrics-address is '%s'; it takes HOST:PORT, e.g. 127.0.0.1:9464 "
                          "or [::1]:9464.",
                          address);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int gai = getaddrinfo(host, service, &hints, &found);
    if (gai != 0)
        return sb_err_set(err, -EINVAL, "--metrics-address '%s': %s.", address, gai_strerror(gai));
    sb_metrics_http_t *http = calloc(1, sizeof(*http));
    if (http == NULL) {
        freeaddrinfo(found);
        return -ENOMEM;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (found->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle_cb, NULL, MHD_OPTION_SOCK_ADDR,
                                    found->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                    (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_END);
    freeaddrinfo(found);
    if (http->daemon == NULL) {
        free(http);
        return sb_err_set(err, -EIO,
                          "Cannot serve metrics on %s (is the port taken, or the address not "
                          "this machine's?).",
                          address);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info != NULL)
        *port = info->port;
    *out = http;
    return 0;
}

void sb_metrics_http_stop(sb_metrics_http_t *http)
{
    if (http == NULL)
        return;
    MHD_stop_daemon(http->daemon);
    free(http);
}
