/*
 * metrics.h - what this process counts, in Prometheus text format 0.0.4
 * (docs/native-api.md, "Operations"): HTTP requests by API family, route
 * pattern, method and status, their durations, generations finished and
 * their render time, webhook attempts, credits charged and refunded, open
 * live progress streams; the queue by state is read from the job store at
 * scrape time. Counters belong to the process: a deployment of several
 * processes sums them in Prometheus.
 *
 * The counting functions may be called from any thread; they take one
 * mutex for a few hundred nanoseconds. Label values are bounded: routes are
 * the route table's patterns (never a raw path), methods outside the
 * standard few count as "other".
 *
 * The metrics listener (--metrics-listen) is a second libmicrohttpd daemon
 * serving GET /metrics, /healthz and /readyz, so scrapes never queue behind
 * API requests and the address can stay private.
 */
#ifndef I2V_METRICS_H
#define I2V_METRICS_H

#include <stdint.h>

#include "service.h"

/* One answered HTTP request: route is a pattern (a string that lives for
 * ever), seconds from its first byte to the end of the answer. */
void i2v__metrics_request(const char *family, const char *route, const char *method, int status,
                          double seconds);
/* A generation this process's worker finished (state SUCCEEDED, FAILED or
 * CANCELLED), and its render time in seconds (< 0: none). */
void i2v__metrics_finished(int state, double render_seconds);
/* One webhook attempt: "delivered", "retry" or "failed" (given up). */
void i2v__metrics_webhook(const char *result);
void i2v__metrics_charged(int64_t credits);
void i2v__metrics_refunded(int64_t credits);
/* Open live progress streams: +1 when one opens, -1 when it closes. */
void i2v__metrics_sse(int delta);

/* The whole exposition (malloc'd, *len set), the queue read from svc's
 * store; NULL when out of memory. */
char *i2v__metrics_text(i2v_service *svc, size_t *len);

/* Answers of the health endpoints, shared by both listeners: /healthz is
 * 200 while the process runs; /readyz 200 when the job store answers a
 * trivial query, else 503 (with why in *why, a static or err message). */
int i2v__ready(i2v_service *svc, char *why, size_t len);

typedef struct i2v_metrics_server i2v_metrics_server;
/* Listens on listen ("HOST:PORT") in a thread of its own. */
int i2v__metrics_start(i2v_metrics_server **out, i2v_service *svc, const char *listen,
                       i2v_error *err);
int i2v__metrics_port(const i2v_metrics_server *m);
void i2v__metrics_stop(i2v_metrics_server **m);

#endif
