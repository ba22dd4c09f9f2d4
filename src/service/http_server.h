/*
 * http_server.h - the HTTP front door on libmicrohttpd: a pool of event-loop
 * threads, per-address and total connection limits, an idle timeout and a
 * request read deadline (slow clients are cut off), a request body limit
 * (413 above it), routing and one log line per request.
 *
 * The router knows no API. Each API family (v1, v2, the output files, ...)
 * hands the server a table: the path prefix it owns, its routes (method,
 * path, handler) and the function that answers an error in its shape. The
 * server finds the route, answers 404 / 405 / 413 through the error function
 * of the family the path belongs to, and tells the handler which family it
 * serves (r->family), so shared code answers errors in the caller's shape.
 */
#ifndef I2V_HTTP_SERVER_H
#define I2V_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "service.h"

typedef struct i2v_api_family i2v_api_family;

typedef struct i2v_http_config {
    char listen[128];      /* "HOST:PORT", "[v6]:PORT" */
    int threads;           /* event-loop threads */
    int connection_limit;  /* open connections in total */
    int per_ip_limit;      /* open connections from one address */
    int timeout_s;         /* idle connection timeout */
    double read_timeout_s; /* a request's headers and body must arrive within it */
    size_t header_max;     /* memory for one request's headers */
    int log_requests;
    /* The API families served (borrowed; they outlive the server). A path
     * belongs to the family with the longest matching prefix. */
    const i2v_api_family *const *families;
    int nfamilies;
    /* Exact paths whose body is a file (a photo upload): it may be as large
     * as the service's upload_max (plus I2V_UPLOAD_SLACK for a multipart
     * form's headers) instead of body_max, and its read deadline grows with
     * its Content-Length (I2V_UPLOAD_MIN_RATE bytes a second). Borrowed. */
    const char *const *file_paths;
    int nfile_paths;
} i2v_http_config;

#define I2V_UPLOAD_SLACK 65536
#define I2V_UPLOAD_MIN_RATE 262144.0

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
    size_t body_max; /* the route's limit: --body-max, or --upload-max-bytes for a file */
    int too_large;
    int status;   /* set when a response is queued */
    int replayed; /* the answer repeats an earlier one (Idempotent-Replayed) */
    double t0;
    const i2v_api_family *family; /* the family the path belongs to */
    /* The route's pattern, for metrics (never the raw path); a handler of
     * a prefix route may set a finer one (a static string). */
    const char *route;
    /* A request parked while the store answers (i2v__req_park): the
     * handler's state, kept until the request ends. */
    void *parked;
    void (*parked_free)(void *);
    i2v_http *http;
} i2v_req;

/* Parks r without an answer: the handler returns 0 at once; the connection
 * then waits without a thread until i2v__req_unpark (from any thread),
 * after which the handler is called again with r->parked as it was left.
 * state is freed with state_free when the request ends. Returns 0, or -1
 * (nothing parked: answer now) while the server stops. */
int i2v__req_park(i2v_req *r, void *state, void (*state_free)(void *));
void i2v__req_unpark(i2v_req *r);

/* What went wrong, in words every API maps to its own status and code in
 * one table. */
typedef enum {
    I2V_API_PARAM,     /* a field is missing or wrong */
    I2V_API_AUTH,      /* missing or unknown API key */
    I2V_API_FORBIDDEN, /* the key does not own the user or object */
    I2V_API_NOTFOUND,
    I2V_API_METHOD,
    I2V_API_TOO_LARGE,
    I2V_API_REVIEW,  /* prompt refused */
    I2V_API_CREDITS, /* not enough credits */
    I2V_API_INTERNAL,
    I2V_API_GENERIC,
    I2V_API_IDEMPOTENCY, /* the Idempotency-Key was used for a different request */
    I2V_API_UNAVAILABLE, /* the store cannot answer now: retry */
    I2V_API_CONFLICT,    /* not in this state (a finished generation cancelled) */
    I2V_API_TOO_MANY,    /* over a limit (open live progress streams): retry later */
    I2V_API_KINDS
} i2v_api_kind;

/* Queues exactly one error response in the family's shape; returns 0 or -1. */
typedef int (*i2v_api_error_fn)(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queues exactly one response; returns 0 or -1. */
typedef int (*i2v_handler_fn)(i2v_service *svc, i2v_req *r);

typedef struct i2v_route {
    const char *methods; /* space-separated: "POST", "GET HEAD" */
    const char *path;    /* exact, or a prefix when it ends with '/' */
    i2v_handler_fn fn;
} i2v_route;

struct i2v_api_family {
    const char *name;   /* for logs: "v1", "v2", "outputs" */
    const char *prefix; /* the paths it owns; "" owns every path no other family does */
    i2v_api_error_fn error;
    const i2v_route *routes;
    int nroutes;
};

/* The exact paths the router answers itself, before any family:
 * /healthz (the process runs) and /readyz (the job store answers), GET and
 * HEAD, "ok" as text/plain (503 with the reason when not ready). Their
 * handlers are NULL: the router answers them. */
#define I2V_ROUTER_NROUTES 2
extern const i2v_route i2v__router_routes[I2V_ROUTER_NROUTES];

/* 1 when m is one of the space-separated methods. */
int i2v__method_in(const char *methods, const char *m);
/* 1 when path is the route's path, or under it when the route's path ends
 * with '/'. */
int i2v__route_matches(const i2v_route *rt, const char *path);

/* Answers an error in the shape of r's family. */
int i2v__req_error(i2v_req *r, i2v_api_kind kind, const char *msg);

const char *i2v__req_header(const i2v_req *r, const char *name);
const char *i2v__req_query(const i2v_req *r, const char *name);
/* Queues a JSON response (body is stolen) with status; returns 0 or -1. */
int i2v__respond_json(i2v_req *r, int status, json_t *body);
struct MHD_Response;
/* Queues resp (a reference is taken; the caller still destroys its own)
 * with status; returns 0 or -1. */
int i2v__respond(i2v_req *r, int status, struct MHD_Response *resp);
/* The response i2v__respond_json queues (body stolen; "{}" when it cannot be
 * serialised), for a caller that adds headers; NULL without memory. */
struct MHD_Response *i2v__json_response(json_t *body);
/* Same, from text that is already JSON (copied). */
int i2v__respond_text(i2v_req *r, int status, const char *ctype, const char *text, size_t len);

#endif
