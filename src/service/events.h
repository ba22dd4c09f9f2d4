/*
 * events.h - live progress as Server-Sent Events (docs/native-api.md,
 * "Live progress"): GET /api/i2v/v1/generations/{id}/events follows one
 * generation until its final state; GET /api/i2v/v1/events follows every
 * generation of the caller, new ones included, and never ends.
 *
 * No thread per stream. A stream is a libmicrohttpd callback response: the
 * callback hands over what is buffered and, when there is nothing, suspends
 * its connection. One hub thread per process reads the job store every
 * poll interval (one batched read for all streams: the generations they
 * follow, their owners' unfinished and new ones, wait numbers computed in
 * the same read, so it works with workers in other processes and on
 * PostgreSQL), compares each generation's object with what each stream sent
 * last, buffers an event where it changed (and a heartbeat comment where
 * nothing was sent for heartbeat seconds), and resumes those connections.
 *
 * Event ids make resuming exact across processes: an id is
 * "W.I-F.I-F..." where W is the store's generation id mark the stream had
 * reached and each I-F a generation (its internal id, hex) with the
 * fingerprint (hex) of the object the stream sent last for it. On a
 * reconnect with Last-Event-ID, a generation whose current object has that
 * fingerprint is not sent again; one that changed, finished or was created
 * meanwhile is.
 */
#ifndef I2V_EVENTS_H
#define I2V_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "http_server.h"
#include "service.h"

typedef struct i2v_events_config {
    double poll_s;      /* store reads; default 0.2 */
    double heartbeat_s; /* ": ping" after this long without a write; default 15 */
    int max_streams;    /* open in this process */
    int max_per_user;   /* open in this process by one user */
} i2v_events_config;

typedef struct i2v_events i2v_events;
/* Starts the hub thread; svc->events is set by the caller. */
int i2v__events_start(i2v_events **out, i2v_service *svc, const i2v_events_config *cfg);
/* Ends every stream and refuses new ones (503): before the HTTP server
 * stops, which must have no suspended connection left. */
void i2v__events_close(i2v_events *ev);
/* After the HTTP server stopped. */
void i2v__events_free(i2v_events **ev);

/* The two endpoints, for api_native.c once the caller is known (user);
 * each queues exactly one response. id: any of a generation's three ids. */
int i2v__events_generation(i2v_service *svc, i2v_req *r, const char *user, const char *id);
int i2v__events_user(i2v_service *svc, i2v_req *r, const char *user);

/* One event in SSE framing ("id: ID\nevent: EVENT\ndata: ...\n\n"; a data
 * line per line of data; id or event NULL: left out) into out (cap bytes,
 * NUL-terminated when it fits). Returns the length it needs (without the
 * NUL), or 0 when id or event hold a line break. */
size_t i2v__sse_format(char *out, size_t cap, const char *id, const char *event, const char *data);
/* The fingerprint of an object's text (FNV-1a, 32 bits). */
uint32_t i2v__sse_fingerprint(const char *text, size_t len);

#endif
