/*
 * http_server.h - the HTTP front door on libmicrohttpd: a pool of event-loop
 * threads, per-address and total connection limits, an idle timeout and a
 * request read deadline (slow clients are cut off), a request body limit
 * (413 above it), routing to the API adapters and the
 * output files, and one log line per request.
 */
#ifndef I2V_HTTP_SERVER_H
#define I2V_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "service.h"

typedef struct i2v_http_config {
    char listen[128];      /* "HOST:PORT", "[v6]:PORT" */
    int threads;           /* event-loop threads */
    int connection_limit;  /* open connections in total */
    int per_ip_limit;      /* open connections from one address */
    int timeout_s;         /* idle connection timeout */
    double read_timeout_s; /* a request's headers and body must arrive within it */
    size_t header_max;     /* memory for one request's headers */
    int log_requests;
} i2v_http_config;

typedef struct i2v_http i2v_http;
int i2v__http_start(i2v_http **out, i2v_service *svc, const i2v_http_config *cfg, i2v_error *err);
void i2v__http_stop(i2v_http **h);
/* The port actually bound (useful with port 0). */
int i2v__http_port(const i2v_http *h);

/* One request, as the adapters see it. */
typedef struct i2v_req {
    struct MHD_Connection *conn;
    const char *method, *path;
    char *body; /* NUL-terminated */
    size_t body_len;
    int too_large;
    int status;   /* set when a response is queued */
    int replayed; /* the answer repeats an earlier one (Idempotent-Replayed) */
    double t0;
} i2v_req;

const char *i2v__req_header(const i2v_req *r, const char *name);
const char *i2v__req_query(const i2v_req *r, const char *name);
/* Queues a JSON response (body is stolen) with status; returns 0 or -1. */
int i2v__respond_json(i2v_req *r, int status, json_t *body);
/* Same, from text that is already JSON (copied). */
int i2v__respond_text(i2v_req *r, int status, const char *ctype, const char *text, size_t len);

#endif
