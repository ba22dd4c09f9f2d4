/* http_server.c - libmicrohttpd daemon, routing and request logging. */
#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "metrics.h"

/* The read deadline of one connection. libmicrohttpd's own timeout is reset
 * by every byte, so a client sending a header byte a second would keep its
 * connection for ever; the watchdog thread shuts the socket of a connection
 * whose request has not fully arrived by its deadline, and libmicrohttpd
 * then closes it as if the client had. Entries are freed when libmicrohttpd
 * reports the connection closed, which it does before closing the socket;
 * the lock makes the watchdog's shutdown and that report exclusive. */
typedef struct watch {
    struct watch *prev, *next;
    int fd;
    double deadline; /* 0: none (a request is being answered) */
} watch;

struct i2v_http {
    struct MHD_Daemon *d;
    i2v_service *svc;
    i2v_http_config cfg;
    int port;
    pthread_mutex_t lock; /* guards the watch list and deadlines */
    watch *watched;
    pthread_t watchdog;
    volatile int stop;
    atomic_int parked;   /* requests parked (i2v__req_park) and not yet unparked */
    atomic_int stopping; /* no more parking */
};

static void set_deadline(i2v_http *h, struct MHD_Connection *conn, double deadline)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!ci || !ci->socket_context) return;
    pthread_mutex_lock(&h->lock);
    ((watch *)ci->socket_context)->deadline = deadline;
    pthread_mutex_unlock(&h->lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    i2v_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        watch *w = ci ? calloc(1, sizeof *w) : NULL;
        *ctx = w;
        if (!w) return;
        w->fd = ci->connect_fd;
        w->deadline = i2v__mono() + h->cfg.read_timeout_s;
        pthread_mutex_lock(&h->lock);
        w->next = h->watched;
        if (h->watched) h->watched->prev = w;
        h->watched = w;
        pthread_mutex_unlock(&h->lock);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *ctx) {
        watch *w = *ctx;
        pthread_mutex_lock(&h->lock);
        if (w->prev)
            w->prev->next = w->next;
        else
            h->watched = w->next;
        if (w->next) w->next->prev = w->prev;
        pthread_mutex_unlock(&h->lock);
        free(w);
        *ctx = NULL;
    }
}

static void *watchdog_main(void *arg)
{
    i2v_http *h = arg;
    while (!h->stop) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        const double now = i2v__mono();
        int cut = 0;
        pthread_mutex_lock(&h->lock);
        for (watch *w = h->watched; w; w = w->next)
            if (w->deadline > 0 && now > w->deadline) {
                shutdown(w->fd, SHUT_RDWR);
                w->deadline = 0;
                cut++;
            }
        pthread_mutex_unlock(&h->lock);
        if (cut)
            i2v__log(I2V_LOG_INFO, "http_read_timeout", " connections=%d seconds=%.1f", cut,
                     h->cfg.read_timeout_s);
    }
    return NULL;
}

const char *i2v__req_header(const i2v_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *i2v__req_query(const i2v_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int i2v__respond(i2v_req *r, int status, struct MHD_Response *resp)
{
    if (!resp) return -1;
    r->status = status;
    if (r->replayed) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    return MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES ? 0 : -1;
}

static int queue(i2v_req *r, int status, struct MHD_Response *resp)
{
    if (!resp) return -1;
    const int ret = i2v__respond(r, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int i2v__respond_text(i2v_req *r, int status, const char *ctype, const char *text, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp) return -1;
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return queue(r, status, resp);
}

struct MHD_Response *i2v__json_response(json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        s ? MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE)
          : MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(s);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return resp;
}

int i2v__respond_json(i2v_req *r, int status, json_t *body)
{
    const int ok = body != NULL;
    struct MHD_Response *resp = i2v__json_response(body);
    return queue(r, ok ? status : 500, resp);
}

/* The family a path belongs to: the longest matching prefix. */
static const i2v_api_family *family_of(const i2v_http *h, const char *path)
{
    const i2v_api_family *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < h->cfg.nfamilies; i++) {
        const i2v_api_family *f = h->cfg.families[i];
        const size_t n = strlen(f->prefix);
        if (strncmp(path, f->prefix, n) == 0 && (!best || n > best_len)) {
            best = f;
            best_len = n;
        }
    }
    return best;
}

int i2v__req_error(i2v_req *r, i2v_api_kind kind, const char *msg)
{
    if (!r->family) {
        static const int status[I2V_API_KINDS] = {
            [I2V_API_PARAM] = 400,    [I2V_API_AUTH] = 401,        [I2V_API_FORBIDDEN] = 403,
            [I2V_API_NOTFOUND] = 404, [I2V_API_METHOD] = 405,      [I2V_API_TOO_LARGE] = 413,
            [I2V_API_REVIEW] = 400,   [I2V_API_CREDITS] = 402,     [I2V_API_INTERNAL] = 500,
            [I2V_API_GENERIC] = 400,  [I2V_API_IDEMPOTENCY] = 422, [I2V_API_UNAVAILABLE] = 503,
            [I2V_API_CONFLICT] = 409, [I2V_API_TOO_MANY] = 429,
        };
        return i2v__respond_text(r, status[kind], "text/plain; charset=utf-8", msg, strlen(msg));
    }
    return r->family->error(r, kind, "%s", msg);
}

/* 1 when path's body is a file (cfg.file_paths). */
static int file_path(const i2v_http *h, const char *path)
{
    for (int i = 0; i < h->cfg.nfile_paths; i++)
        if (strcmp(path, h->cfg.file_paths[i]) == 0) return h->svc->upload_max > 0;
    return 0;
}

int i2v__method_in(const char *methods, const char *m)
{
    const size_t n = strlen(m);
    for (const char *p = methods; (p = strstr(p, m)) != NULL; p += n)
        if ((p == methods || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

int i2v__route_matches(const i2v_route *rt, const char *path)
{
    const size_t n = strlen(rt->path);
    return n && rt->path[n - 1] == '/' ? strncmp(path, rt->path, n) == 0
                                       : strcmp(path, rt->path) == 0;
}

static const i2v_route *route_of(const i2v_api_family *f, const char *path)
{
    for (int i = 0; i < f->nroutes; i++)
        if (i2v__route_matches(&f->routes[i], path)) return &f->routes[i];
    return NULL;
}

/* 404 / 405. */
static int route_error(i2v_req *r, i2v_api_kind kind)
{
    char msg[300];
    if (kind == I2V_API_METHOD)
        snprintf(msg, sizeof msg, "method %s is not allowed on %.200s", r->method, r->path);
    else
        snprintf(msg, sizeof msg, "%s %.200s: no such endpoint", r->method, r->path);
    return i2v__req_error(r, kind, msg);
}

/* /healthz (the process runs) and /readyz (the job store answers). */
static int health(i2v_http *h, i2v_req *r)
{
    static const char text[] = "text/plain; charset=utf-8";
    const char *m = r->method;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) return route_error(r, I2V_API_METHOD);
    if (r->path[1] == 'h') return i2v__respond_text(r, 200, text, "ok\n", 3);
    char why[320], msg[340];
    if (i2v__ready(h->svc, why, sizeof why) == 0) return i2v__respond_text(r, 200, text, "ok\n", 3);
    const int n = snprintf(msg, sizeof msg, "not ready: %s\n", why);
    return i2v__respond_text(r, 503, text, msg, (size_t)n);
}

/* What the router answers itself, before any family: GET and HEAD, the
 * handlers NULL (health() answers them; it needs the server). */
const i2v_route i2v__router_routes[I2V_ROUTER_NROUTES] = {
    {"GET HEAD", "/healthz", NULL},
    {"GET HEAD", "/readyz", NULL},
};

static int dispatch(i2v_http *h, i2v_req *r)
{
    const char *m = r->method;
    for (int i = 0; i < I2V_ROUTER_NROUTES; i++)
        if (strcmp(r->path, i2v__router_routes[i].path) == 0) {
            r->route = i2v__router_routes[i].path;
            return health(h, r);
        }
    r->family = family_of(h, r->path);
    if (!r->family) return route_error(r, I2V_API_NOTFOUND);
    const i2v_route *found = route_of(r->family, r->path);
    if (!found) return route_error(r, I2V_API_NOTFOUND);
    r->route = found->path;
    if (!i2v__method_in(found->methods, m)) return route_error(r, I2V_API_METHOD);
    if (r->too_large) {
        char msg[64];
        snprintf(msg, sizeof msg, "body: larger than %zu bytes",
                 file_path(h, r->path) ? h->svc->upload_max : r->body_max);
        return i2v__req_error(r, I2V_API_TOO_LARGE, msg);
    }
    return found->fn(h->svc, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    i2v_http *h = cls;
    (void)version;
    i2v_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->conn = conn;
        r->http = h;
        r->method = method;
        r->path = url;
        r->t0 = i2v__mono();
        *con_cls = r;
        const int file = file_path(h, url);
        r->body_max = file ? h->svc->upload_max + I2V_UPLOAD_SLACK : h->svc->body_max;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        const unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
        if (file && len > 0 && len <= r->body_max) /* a large file gets the time it needs */
            set_deadline(h, conn,
                         r->t0 + h->cfg.read_timeout_s + (double)len / I2V_UPLOAD_MIN_RATE);
        if (len > r->body_max) {
            /* Refused before the body is read; MHD closes the connection. */
            r->too_large = 1;
            set_deadline(h, conn, 0);
            return dispatch(h, r) == 0 ? MHD_YES : MHD_NO;
        }
        return MHD_YES;
    }
    if (r->status) { /* already answered (413 before the body) */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large) {
            if (r->body_len + *upload_size > r->body_max) {
                r->too_large = 1;
                free(r->body);
                r->body = NULL;
                r->body_len = 0;
            } else {
                char *nb = realloc(r->body, r->body_len + *upload_size + 1);
                if (!nb) return MHD_NO;
                memcpy(nb + r->body_len, upload_data, *upload_size);
                r->body = nb;
                r->body_len += *upload_size;
                r->body[r->body_len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    set_deadline(h, conn, 0); /* the request is in: answering is not reading */
    return dispatch(h, r) == 0 ? MHD_YES : MHD_NO;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    i2v_http *h = cls;
    i2v_req *r = *con_cls;
    /* the next request on a kept-alive connection has its own deadline */
    set_deadline(h, conn, i2v__mono() + h->cfg.read_timeout_s);
    if (!r) return;
    i2v__metrics_request(r->family  ? r->family->name
                         : r->route ? "health"
                                    : "none",
                         r->route, r->method, r->status, i2v__mono() - r->t0);
    if (h->cfg.log_requests) {
        char ip[INET6_ADDRSTRLEN] = "?", path[300];
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip,
                          sizeof ip);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip,
                          sizeof ip);
        }
        i2v__log(I2V_LOG_INFO, "request", " method=%s path=%s status=%d ms=%.2f ip=%s%s", r->method,
                 i2v__log_str(path, sizeof path, r->path), r->status, (i2v__mono() - r->t0) * 1000,
                 ip, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    }
    if (r->parked_free) r->parked_free(r->parked);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    i2v__log(I2V_LOG_DEBUG, "http_notice", " message=%s", i2v__log_str(q, sizeof q, msg));
}

int i2v__http_start(i2v_http **out, i2v_service *svc, const i2v_http_config *cfg, i2v_error *err)
{
    struct sockaddr_storage ss;
    unsigned sl;
    *out = NULL;
    if (i2v__parse_listen(cfg->listen, &ss, &sl) != 0)
        return i2v__err(err, I2V_EINVAL, "listen: '%s' is not HOST:PORT", cfg->listen);
    i2v_http *h = calloc(1, sizeof *h);
    if (!h) return i2v__err(err, I2V_ENOMEM, "out of memory");
    h->svc = svc;
    h->cfg = *cfg;
    if (h->cfg.read_timeout_s <= 0) h->cfg.read_timeout_s = 10;
    pthread_mutex_init(&h->lock, NULL);
    /* suspend/resume: live progress streams wait without a thread */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads > 0 ? cfg->threads : 2),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        cfg->header_max, MHD_OPTION_NOTIFY_COMPLETED, on_done, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
    if (!h->d || pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
        if (h->d) MHD_stop_daemon(h->d);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return i2v__err(err, I2V_EIO, "listen: cannot listen on %s (in use or not permitted)",
                        cfg->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    *out = h;
    return 0;
}

int i2v__http_port(const i2v_http *h)
{
    return h->port;
}

int i2v__req_park(i2v_req *r, void *state, void (*state_free)(void *))
{
    i2v_http *h = r->http;
    if (!h || atomic_load(&h->stopping)) return -1;
    atomic_fetch_add(&h->parked, 1);
    r->parked = state;
    r->parked_free = state_free;
    MHD_suspend_connection(r->conn);
    return 0;
}

void i2v__req_unpark(i2v_req *r)
{
    i2v_http *h = r->http; /* r may be gone once the connection is resumed */
    MHD_resume_connection(r->conn);
    atomic_fetch_sub(&h->parked, 1);
}

void i2v__http_stop(i2v_http **hp)
{
    if (!hp || !*hp) return;
    /* no connection may be suspended when the daemon stops: parked
     * requests are answered first (the store answers within its own
     * deadline) */
    atomic_store(&(*hp)->stopping, 1);
    for (int i = 0; i < 120000 && atomic_load(&(*hp)->parked) > 0; i++)
        usleep(1000);
    (*hp)->stop = 1;
    pthread_join((*hp)->watchdog, NULL);
    MHD_stop_daemon((*hp)->d);
    pthread_mutex_destroy(&(*hp)->lock);
    free(*hp);
    *hp = NULL;
}
