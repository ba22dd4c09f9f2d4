/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <dirent.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "netaddr.h"

#define REQ_MAX 512  /* (family, route, method, status) series */
#define HIST_MAX 128 /* (family, route) duration histograms */

static const double http_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define HTTP_NB (int)(sizeof http_le / sizeof http_le[0])
static const double render_le[] = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800};
#define RENDER_NB (int)(sizeof render_le / sizeof render_le[0])

static const char *const methods[] = {"GET",    "HEAD",    "POST",  "PUT",
                                      "DELETE", "OPTIONS", "PATCH", "other"};
#define NMETHODS (int)(sizeof methods / sizeof methods[0])

typedef struct req_series {
    const char *family, *route;
    int method, status;
    uint64_t n;
} req_series;

typedef struct hist {
    const char *family, *route;
    uint64_t bucket[HTTP_NB]; /* not cumulative here */
    uint64_t n;
    double sum;
} hist;

static struct {
    pthread_mutex_t lock;
    req_series req[REQ_MAX];
    int nreq;
    uint64_t req_dropped; /* series beyond REQ_MAX */
    hist h[HIST_MAX];
    int nh;
    uint64_t finished[5]; /* by i2v_gen_state */
    uint64_t render_bucket[RENDER_NB], render_n;
    double render_sum;
    uint64_t hook_delivered, hook_retry, hook_failed;
    int64_t charged, refunded;
    int64_t sse;
    double start; /* wall-clock seconds when the process first counted */
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int method_index(const char *mth)
{
    for (int i = 0; i < NMETHODS - 1; i++)
        if (mth && strcmp(mth, methods[i]) == 0) return i;
    return NMETHODS - 1;
}

/* Families and routes are static strings: compared by address first. */
static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

void i2v__metrics_request(const char *family, const char *route, const char *method, int status,
                          double seconds)
{
    const int mi = method_index(method);
    if (!family) family = "none";
    if (!route) route = "unmatched";
    pthread_mutex_lock(&m.lock);
    int i = 0;
    while (i < m.nreq && !(m.req[i].status == status && m.req[i].method == mi &&
                           same(m.req[i].route, route) && same(m.req[i].family, family)))
        i++;
    if (i == m.nreq && m.nreq < REQ_MAX)
        m.req[m.nreq++] = (req_series){family, route, mi, status, 0};
    if (i < m.nreq)
        m.req[i].n++;
    else
        m.req_dropped++;
    int k = 0;
    while (k < m.nh && !(same(m.h[k].route, route) && same(m.h[k].family, family)))
        k++;
    if (k == m.nh && m.nh < HIST_MAX) {
        memset(&m.h[k], 0, sizeof m.h[k]);
        m.h[k].family = family;
        m.h[k].route = route;
        m.nh++;
    }
    if (k < m.nh) {
        int b = 0;
        while (b < HTTP_NB && seconds > http_le[b])
            b++;
        if (b < HTTP_NB) m.h[k].bucket[b]++;
        m.h[k].n++;
        m.h[k].sum += seconds;
    }
    pthread_mutex_unlock(&m.lock);
}

void i2v__metrics_finished(int state, double render_seconds)
{
    pthread_mutex_lock(&m.lock);
    if (state >= 0 && state < 5) m.finished[state]++;
    if (render_seconds >= 0) {
        int b = 0;
        while (b < RENDER_NB && render_seconds > render_le[b])
            b++;
        if (b < RENDER_NB) m.render_bucket[b]++;
        m.render_n++;
        m.render_sum += render_seconds;
    }
    pthread_mutex_unlock(&m.lock);
}

void i2v__metrics_webhook(const char *result)
{
    pthread_mutex_lock(&m.lock);
    if (strcmp(result, "delivered") == 0)
        m.hook_delivered++;
    else if (strcmp(result, "retry") == 0)
        m.hook_retry++;
    else
        m.hook_failed++;
    pthread_mutex_unlock(&m.lock);
}

void i2v__metrics_charged(int64_t credits)
{
    pthread_mutex_lock(&m.lock);
    m.charged += credits;
    pthread_mutex_unlock(&m.lock);
}

void i2v__metrics_refunded(int64_t credits)
{
    pthread_mutex_lock(&m.lock);
    m.refunded += credits;
    pthread_mutex_unlock(&m.lock);
}

void i2v__metrics_sse(int delta)
{
    pthread_mutex_lock(&m.lock);
    m.sse += delta;
    pthread_mutex_unlock(&m.lock);
}

/* ---- the exposition ---- */

typedef struct out {
    char *s;
    size_t n, cap;
    int oom;
} out;

__attribute__((format(printf, 2, 3))) static void put(out *o, const char *fmt, ...)
{
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int k = vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)k < o->cap - o->n) {
            o->n += (size_t)k;
            return;
        }
        const size_t cap = (o->cap + (size_t)k + 1) * 2;
        char *ns = realloc(o->s, cap);
        if (!ns) {
            o->oom = 1;
            return;
        }
        o->s = ns;
        o->cap = cap;
    }
}

/* A label value with \ " and newlines escaped, into buf. */
static const char *esc(char *buf, size_t len, const char *v)
{
    size_t k = 0;
    for (; *v && k + 3 < len; v++) {
        if (*v == '\\' || *v == '"') buf[k++] = '\\';
        if (*v == '\n') {
            buf[k++] = '\\';
            buf[k++] = 'n';
            continue;
        }
        buf[k++] = *v;
    }
    buf[k] = '\0';
    return buf;
}

static void head(out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void process_metrics(out *o)
{
    long rss_pages = 0, vm_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &vm_pages, &rss_pages) != 2) vm_pages = rss_pages = 0;
        fclose(f);
    }
    const long page = sysconf(_SC_PAGESIZE);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory's own */
    }
    head(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    put(o, "process_resident_memory_bytes %ld\n", rss_pages * page);
    head(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    put(o, "process_virtual_memory_bytes %ld\n", vm_pages * page);
    head(o, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
    put(o, "process_cpu_seconds_total %.3f\n",
        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6);
    head(o, "process_open_fds", "gauge", "Open file descriptors.");
    put(o, "process_open_fds %d\n", fds);
    head(o, "process_start_time_seconds", "gauge",
         "When the process began serving, in seconds since the Unix epoch.");
    put(o, "process_start_time_seconds %.3f\n", m.start);
}

char *i2v__metrics_text(i2v_service *svc, size_t *len)
{
    out o = {0};
    char a[160], b[300];
    /* the queue first, outside the lock: the store may take its time */
    i2v_queue_stats *q = calloc(1, sizeof *q);
    i2v_error e = {0};
    const int qok = q && svc && svc->store && svc->store->vt->queue_stats(svc->store, q, &e) == 0;
    head(&o, "i2v_store_up", "gauge", "1 when the job store answered this scrape's queue read.");
    put(&o, "i2v_store_up %d\n", qok);
    if (qok) {
        head(&o, "i2v_queue_generations", "gauge",
             "Generations in the job store by state (all processes), read at scrape time.");
        for (int s = 0; s <= I2V_GEN_CANCELLED; s++)
            put(&o, "i2v_queue_generations{state=\"%s\"} %lld\n", i2v__gen_state_name(s),
                (long long)(s == I2V_GEN_CANCELLED ? q->cancelled : q->state_count[s]));
        head(&o, "i2v_webhook_deliveries_pending", "gauge",
             "Webhook deliveries neither delivered nor given up (all processes).");
        put(&o, "i2v_webhook_deliveries_pending %lld\n", (long long)q->deliveries_pending);
    }
    free(q);

    pthread_mutex_lock(&m.lock);
    head(&o, "i2v_http_requests_total", "counter",
         "HTTP requests answered by this process, by API family, route pattern, method and "
         "status.");
    for (int i = 0; i < m.nreq; i++)
        put(&o,
            "i2v_http_requests_total{family=\"%s\",route=\"%s\",method=\"%s\",status=\"%d\"} "
            "%llu\n",
            esc(a, sizeof a, m.req[i].family), esc(b, sizeof b, m.req[i].route),
            methods[m.req[i].method], m.req[i].status, (unsigned long long)m.req[i].n);
    head(&o, "i2v_http_series_dropped_total", "counter",
         "Requests of this process not counted by series (more than the series limit).");
    put(&o, "i2v_http_series_dropped_total %llu\n", (unsigned long long)m.req_dropped);
    head(&o, "i2v_http_request_duration_seconds", "histogram",
         "Seconds from a request's arrival to the end of its answer (a live progress stream: its "
         "whole life), this process, by API family and route pattern.");
    for (int i = 0; i < m.nh; i++) {
        esc(a, sizeof a, m.h[i].family);
        esc(b, sizeof b, m.h[i].route);
        uint64_t cum = 0;
        for (int k = 0; k < HTTP_NB; k++) {
            cum += m.h[i].bucket[k];
            put(&o,
                "i2v_http_request_duration_seconds_bucket{family=\"%s\",route=\"%s\",le=\"%g\"} "
                "%llu\n",
                a, b, http_le[k], (unsigned long long)cum);
        }
        put(&o,
            "i2v_http_request_duration_seconds_bucket{family=\"%s\",route=\"%s\",le=\"+Inf\"} "
            "%llu\n",
            a, b, (unsigned long long)m.h[i].n);
        put(&o, "i2v_http_request_duration_seconds_sum{family=\"%s\",route=\"%s\"} %.6f\n", a, b,
            m.h[i].sum);
        put(&o, "i2v_http_request_duration_seconds_count{family=\"%s\",route=\"%s\"} %llu\n", a, b,
            (unsigned long long)m.h[i].n);
    }
    head(&o, "i2v_generations_finished_total", "counter",
         "Generations finished by this process's workers, by final state.");
    for (int s = I2V_GEN_SUCCEEDED; s <= I2V_GEN_CANCELLED; s++)
        put(&o, "i2v_generations_finished_total{state=\"%s\"} %llu\n", i2v__gen_state_name(s),
            (unsigned long long)m.finished[s]);
    head(&o, "i2v_render_seconds", "histogram",
         "Seconds from a claim to the finish of a generation in this process's workers.");
    uint64_t cum = 0;
    for (int k = 0; k < RENDER_NB; k++) {
        cum += m.render_bucket[k];
        put(&o, "i2v_render_seconds_bucket{le=\"%g\"} %llu\n", render_le[k],
            (unsigned long long)cum);
    }
    put(&o, "i2v_render_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m.render_n);
    put(&o, "i2v_render_seconds_sum %.3f\ni2v_render_seconds_count %llu\n", m.render_sum,
        (unsigned long long)m.render_n);
    head(&o, "i2v_webhook_deliveries_total", "counter",
         "Webhook attempts made by this process, by result (delivered, retry: failed and tried "
         "again later, failed: given up).");
    put(&o, "i2v_webhook_deliveries_total{result=\"delivered\"} %llu\n",
        (unsigned long long)m.hook_delivered);
    put(&o, "i2v_webhook_deliveries_total{result=\"retry\"} %llu\n",
        (unsigned long long)m.hook_retry);
    put(&o, "i2v_webhook_deliveries_total{result=\"failed\"} %llu\n",
        (unsigned long long)m.hook_failed);
    head(&o, "i2v_credits_charged_total", "counter",
         "Credits charged for generations created through this process.");
    put(&o, "i2v_credits_charged_total %lld\n", (long long)m.charged);
    head(&o, "i2v_credits_refunded_total", "counter",
         "Credits refunded by this process (its workers' failed and cancelled generations, "
         "queued ones cancelled through its API).");
    put(&o, "i2v_credits_refunded_total %lld\n", (long long)m.refunded);
    head(&o, "i2v_sse_subscribers", "gauge", "Live progress streams open on this process.");
    put(&o, "i2v_sse_subscribers %lld\n", (long long)m.sse);
    pthread_mutex_unlock(&m.lock);
    process_metrics(&o);
    if (o.oom) {
        free(o.s);
        return NULL;
    }
    *len = o.n;
    return o.s;
}

int i2v__ready(i2v_service *svc, char *why, size_t len)
{
    i2v_error e = {0};
    if (svc->store->vt->ping(svc->store, &e) == 0) return 0;
    snprintf(why, len, "store: %s", e.message[0] ? e.message : "does not answer");
    return -1;
}

/* ---- the metrics listener ---- */

struct i2v_metrics_server {
    struct MHD_Daemon *d;
    i2v_service *svc;
    int port;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *ctype,
                              char *body, size_t len, int owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    const enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *c, const char *url,
                                          const char *method, const char *version,
                                          const char *upload, size_t *upload_size, void **ctx)
{
    i2v_metrics_server *ms = cls;
    (void)version;
    (void)upload;
    if (!*ctx) { /* answer once the whole request is in */
        *ctx = ms;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    static char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(c, 405, text, "method not allowed\n", 19, 0);
    if (strcmp(url, "/metrics") == 0) {
        size_t len;
        char *body = i2v__metrics_text(ms->svc, &len);
        if (!body) return answer(c, 500, text, "out of memory\n", 14, 0);
        return answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
    }
    if (strcmp(url, "/healthz") == 0) return answer(c, 200, text, "ok\n", 3, 0);
    if (strcmp(url, "/readyz") == 0) {
        char why[320], msg[340];
        if (i2v__ready(ms->svc, why, sizeof why) == 0) return answer(c, 200, text, "ok\n", 3, 0);
        const int n = snprintf(msg, sizeof msg, "not ready: %s\n", why);
        return answer(c, 503, text, msg, (size_t)n, 0);
    }
    return answer(c, 404, text, "not found (GET /metrics, /healthz, /readyz)\n", 44, 0);
}

int i2v__metrics_start(i2v_metrics_server **out, i2v_service *svc, const char *listen,
                       i2v_error *err)
{
    struct sockaddr_storage ss;
    unsigned sl;
    *out = NULL;
    if (i2v__parse_listen(listen, &ss, &sl) != 0)
        return i2v__err(err, I2V_EINVAL, "metrics-listen: '%s' is not HOST:PORT", listen);
    i2v_metrics_server *ms = calloc(1, sizeof *ms);
    if (!ms) return i2v__err(err, I2V_ENOMEM, "out of memory");
    ms->svc = svc;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    ms->d = MHD_start_daemon(flags, 0, NULL, NULL, on_metrics_request, ms, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
    if (!ms->d) {
        free(ms);
        return i2v__err(err, I2V_EIO,
                        "metrics-listen: cannot listen on %s (in use or not permitted)", listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(ms->d, MHD_DAEMON_INFO_BIND_PORT);
    ms->port = di ? di->port : 0;
    if (m.start == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m.start = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    }
    *out = ms;
    return 0;
}

int i2v__metrics_port(const i2v_metrics_server *ms)
{
    return ms->port;
}

void i2v__metrics_stop(i2v_metrics_server **msp)
{
    if (!msp || !*msp) return;
    MHD_stop_daemon((*msp)->d);
    free(*msp);
    *msp = NULL;
}
