#pragma once
/*
 * The operators' HTTP endpoint (--metrics-address): /metrics in Prometheus's
 * text format, /healthz (the process answers) and /readyz (the store open,
 * the writer alive, the loop turning). libmicrohttpd serves it on a thread
 * of its own, which reads only metrics.c's atomics and snapshot: a scrape
 * never waits for the event loop, nor the loop for a scrape.
 */

#include <stdint.h>

#include "error.h"

typedef struct sb_metrics_http sb_metrics_http_t;

/**
 * Listens on `address` ("127.0.0.1:9464", "[::1]:9464"; port 0 picks one)
 * and serves. *out [owned: stop with sb_metrics_http_stop()]; *port gets the
 * port bound. Returns 0, or -EINVAL (a bad address) or -EIO (cannot listen)
 * with a sentence in err.
 */
int sb_metrics_http_start(const char *address, sb_metrics_http_t **out, unsigned *port,
                          sb_err_t *err);

/** Stops serving and frees `http`; NULL does nothing. */
void sb_metrics_http_stop(sb_metrics_http_t *http);
