/*
 * cli_serve.c - `i2v serve` (HTTP API + in-process workers + notifier) and
 * `i2v worker` (workers + notifier only, for more machines) on one data
 * directory: <data>/i2v.db (SQLite), <data>/outputs/ (the blob store) and
 * <data>/tmp/ (renders in progress). Here the layers are put together: the
 * store and blob store are opened, and the API families' route tables are
 * handed to the HTTP server.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends.h"
#include "blob/blob.h"
#include "cli.h"
#include "common/log.h"
#include "common/options.h"
#include "service/api.h"
#include "service/events.h"
#include "service/http_server.h"
#include "service/metrics.h"
#include "service/routes.h"
#include "service/service.h"
#include "service/web.h"

static const i2v_option serve_opts[] = {
    {"listen", 0, I2V_OPT_STRING, "127.0.0.1:8080", 0, 0, NULL, "I2V_LISTEN",
     "address and port to serve on (HOST:PORT, [V6]:PORT)"},
    I2V_BACKEND_OPTIONS,
    {"blob-url-ttl", 0, I2V_OPT_INT, "900", 1, 604800, NULL, "I2V_BLOB_URL_TTL",
     "seconds a direct (presigned) output URL stays valid"},
    {"blob-proxy", 0, I2V_OPT_CHOICE, "off", 0, 0, "on|off", "I2V_BLOB_PROXY",
     "on: stream outputs through i2v (with Range) instead of redirecting to the blob store"},
    {"public-url", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, "I2V_PUBLIC_URL",
     "base URL of output links [default: http://LISTEN]"},
    {"workers", 0, I2V_OPT_INT, "1", 0, 64, NULL, "I2V_WORKERS",
     "render workers in this process (each renders on all cores)"},
    {"http-threads", 0, I2V_OPT_INT, "0", 0, 64, NULL, "I2V_HTTP_THREADS",
     "HTTP event-loop threads; 0: 2 on SQLite, 8 on PostgreSQL (its requests wait on the "
     "network)"},
    {"render-threads", 0, I2V_OPT_INT, "0", 0, 64, NULL, "I2V_RENDER_THREADS",
     "threads per render, 0 = all cores"},
    {"worker-nice", 0, I2V_OPT_INT, "10", 0, 19, NULL, "I2V_WORKER_NICE",
     "scheduling niceness of render threads, so requests are answered first"},
    {"lease", 0, I2V_OPT_NUMBER, "60", 2, 3600, NULL, "I2V_LEASE",
     "seconds a worker's claim lasts without renewal"},
    {"max-attempts", 0, I2V_OPT_INT, "3", 1, 100, NULL, "I2V_MAX_ATTEMPTS",
     "claims of a generation before it fails (crashed workers)"},
    {"poll", 0, I2V_OPT_NUMBER, "1", 0.05, 60, NULL, "I2V_POLL",
     "seconds between queue checks of an idle worker"},
    {"fetch-allow", 0, I2V_OPT_STRING, "", 0, 0, NULL, "I2V_FETCH_ALLOW",
     "non-public addresses that may be fetched anyway (CIDRs, comma-separated)"},
    {"fetch-timeout", 0, I2V_OPT_NUMBER, "30", 1, 600, NULL, "I2V_FETCH_TIMEOUT",
     "seconds to fetch one photo"},
    {"fetch-max-bytes", 0, I2V_OPT_NUMBER, "67108864", 1024, 1e10, NULL, "I2V_FETCH_MAX_BYTES",
     "largest photo download"},
    {"max-redirects", 0, I2V_OPT_INT, "5", 0, 20, NULL, "I2V_MAX_REDIRECTS", "redirects followed"},
    {"max-pixels", 0, I2V_OPT_NUMBER, "100000000", 1, 1e10, NULL, "I2V_MAX_PIXELS",
     "largest photo in pixels (from its header)"},
    {"body-max", 0, I2V_OPT_INT, "65536", 256, 16777216, NULL, "I2V_BODY_MAX",
     "largest request body in bytes (413 above)"},
    {"header-max", 0, I2V_OPT_INT, "32768", 4096, 1048576, NULL, "I2V_HEADER_MAX",
     "memory for one request's headers"},
    {"connection-limit", 0, I2V_OPT_INT, "4096", 1, 1000000, NULL, "I2V_CONNECTION_LIMIT",
     "open connections in total"},
    {"per-ip-limit", 0, I2V_OPT_INT, "256", 0, 1000000, NULL, "I2V_PER_IP_LIMIT",
     "open connections from one address (0 = no limit)"},
    {"conn-timeout", 0, I2V_OPT_INT, "30", 1, 3600, NULL, "I2V_CONN_TIMEOUT",
     "seconds an idle connection is kept"},
    {"read-timeout", 0, I2V_OPT_NUMBER, "10", 0.5, 3600, NULL, "I2V_READ_TIMEOUT",
     "seconds a client has to send a request's headers and body"},
    {"review-words", 0, I2V_OPT_STRING, "", 0, 0, NULL, "I2V_REVIEW_WORDS",
     "prompt review word list file (one word or phrase per line) [default: built-in]"},
    {"v2-video-credits", 0, I2V_OPT_INT, "20", 1, 1000000, NULL, "I2V_V2_VIDEO_CREDITS",
     "credits of one 5 s Animation API v2 video (remaining_videos divides by it)"},
    {"webhook-retry", 0, I2V_OPT_NUMBER, "5", 0.01, 86400, NULL, "I2V_WEBHOOK_RETRY",
     "seconds before the first webhook retry; each next waits 6x longer (at most 10 h)"},
    {"webhook-attempts", 0, I2V_OPT_INT, "10", 1, 100, NULL, "I2V_WEBHOOK_ATTEMPTS",
     "webhook attempts before giving up"},
    {"webhook-timeout", 0, I2V_OPT_NUMBER, "10", 0.1, 600, NULL, "I2V_WEBHOOK_TIMEOUT",
     "seconds for one webhook attempt"},
    {"idempotency-hours", 0, I2V_OPT_NUMBER, "24", 24, 8760, NULL, "I2V_IDEMPOTENCY_HOURS",
     "how long Idempotency-Key answers are kept"},
    {"upload-max-bytes", 0, I2V_OPT_NUMBER, "0", 0, 1e10, NULL, "I2V_UPLOAD_MAX_BYTES",
     "largest photo upload (POST /api/i2v/v1/uploads) [default: --fetch-max-bytes]"},
    {"upload-ttl", 0, I2V_OPT_NUMBER, "86400", 1, 31536000, NULL, "I2V_UPLOAD_TTL",
     "seconds an uploaded photo can be used; then it is removed"},
    {"output-review-command", 0, I2V_OPT_STRING, "", 0, 0, NULL, "I2V_OUTPUT_REVIEW_COMMAND",
     "program (and arguments, split on spaces) run on the cover and sampled frames of every "
     "finished video: exit 0 accepts, anything else refuses (9038) [default: off]"},
    {"output-review-timeout", 0, I2V_OPT_NUMBER, "30", 0.1, 3600, NULL, "I2V_OUTPUT_REVIEW_TIMEOUT",
     "seconds the output review command may run"},
    {"session-hours", 0, I2V_OPT_NUMBER, "12", 0.01, 8760, NULL, "I2V_SESSION_HOURS",
     "how long a Developer Space sign-in lasts (the secret is I2V_SESSION_SECRET)"},
    {"signin-limit", 0, I2V_OPT_INT, "10", 1, 1000000, NULL, "I2V_SIGNIN_LIMIT",
     "Developer Space sign-in attempts per minute from one address (429 above)"},
    {"log-requests", 0, I2V_OPT_CHOICE, "on", 0, 0, "on|off", "I2V_LOG_REQUESTS",
     "one log line per HTTP request"},
    {"log-level", 0, I2V_OPT_CHOICE, "info", 0, 0, "debug|info|warn|error", "I2V_LOG_LEVEL",
     "the least important log lines written (debug adds job_progress lines)"},
    {"metrics-listen", 0, I2V_OPT_STRING, "", 0, 0, NULL, "I2V_METRICS_LISTEN",
     "HOST:PORT serving GET /metrics (Prometheus), /healthz and /readyz [default: off]"},
    {"sse-poll", 0, I2V_OPT_NUMBER, "0.2", 0.02, 10, NULL, "I2V_SSE_POLL",
     "seconds between the job store reads of live progress streams"},
    {"sse-heartbeat", 0, I2V_OPT_NUMBER, "15", 0.05, 3600, NULL, "I2V_SSE_HEARTBEAT",
     "seconds without an event before a live progress stream gets a \": ping\" comment"},
    {"sse-max-streams", 0, I2V_OPT_INT, "10000", 1, 1000000, NULL, "I2V_SSE_MAX_STREAMS",
     "live progress streams open on this server (429 above)"},
    {"sse-per-user", 0, I2V_OPT_INT, "100", 1, 1000000, NULL, "I2V_SSE_PER_USER",
     "live progress streams one user may have open on this server (429 above)"},
    {"help", 'h', I2V_OPT_FLAG, NULL, 0, 0, NULL, NULL, "show this help"},
};
#define NOPTS (int)(sizeof serve_opts / sizeof serve_opts[0])

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
    got_signal = sig;
}

/* Fills svc from the options: limits, review list, the stores (opened into
 * be). */
static int setup(i2v_service *svc, i2v_backends *be, const i2v_opts *o, int http, char *msg,
                 size_t ml)
{
    memset(svc, 0, sizeof *svc);
    pthread_mutex_init(&svc->lock, NULL);
    pthread_cond_init(&svc->wake, NULL);
    const char *pub = i2v__opt_str(o, "public-url");
    if (pub && *pub)
        snprintf(svc->public_url, sizeof svc->public_url, "%s", pub);
    else
        snprintf(svc->public_url, sizeof svc->public_url, "http://%s", i2v__opt_str(o, "listen"));
    size_t n = strlen(svc->public_url);
    while (n && svc->public_url[n - 1] == '/')
        svc->public_url[--n] = '\0';
    if (strncmp(svc->public_url, "http://", 7) != 0 &&
        strncmp(svc->public_url, "https://", 8) != 0) {
        snprintf(msg, ml, "public-url: '%.200s' is not an http(s) URL", svc->public_url);
        return -1;
    }
    if (i2v__allow_parse(&svc->allow, i2v__opt_str(o, "fetch-allow"), msg, ml) != 0) return -1;
    i2v__fetch_limits_init(&svc->fetch);
    svc->fetch.allow = &svc->allow;
    svc->fetch.timeout_ms = (long)(i2v__opt_num(o, "fetch-timeout") * 1000);
    svc->fetch.max_bytes = (size_t)i2v__opt_num(o, "fetch-max-bytes");
    svc->fetch.max_redirects = (int)i2v__opt_int(o, "max-redirects");
    svc->max_pixels = (uint64_t)i2v__opt_num(o, "max-pixels");
    svc->lease_ms = (int64_t)(i2v__opt_num(o, "lease") * 1000);
    svc->poll_s = i2v__opt_num(o, "poll");
    svc->render_threads = (int)i2v__opt_int(o, "render-threads");
    svc->worker_nice = (int)i2v__opt_int(o, "worker-nice");
    svc->v2_video_credits = (int)i2v__opt_int(o, "v2-video-credits");
    svc->body_max = (size_t)i2v__opt_int(o, "body-max");
    svc->upload_max = (size_t)i2v__opt_num(o, "upload-max-bytes");
    if (svc->upload_max == 0) svc->upload_max = svc->fetch.max_bytes;
    svc->upload_ttl_ms = (int64_t)(i2v__opt_num(o, "upload-ttl") * 1000);
    snprintf(svc->review_cmd, sizeof svc->review_cmd, "%s",
             i2v__opt_str(o, "output-review-command"));
    svc->review_timeout_s = i2v__opt_num(o, "output-review-timeout");
    svc->hook_first_delay_s = i2v__opt_num(o, "webhook-retry");
    svc->hook_attempts = (int)i2v__opt_int(o, "webhook-attempts");
    svc->hook_timeout_ms = (long)(i2v__opt_num(o, "webhook-timeout") * 1000);
    if (http) {
        svc->review = i2v__review_load(i2v__opt_str(o, "review-words"), msg, ml);
        if (!svc->review) return -1;
        const char *secret = getenv("I2V_SESSION_SECRET");
        const i2v_web_config wc = {secret, (int)(i2v__opt_num(o, "session-hours") * 3600),
                                   (int)i2v__opt_int(o, "signin-limit"),
                                   strncmp(svc->public_url, "https://", 8) == 0};
        if (i2v__web_new(&svc->web, &wc, msg, ml) != 0) return -1;
        if (!secret || !*secret)
            i2v__log(I2V_LOG_WARN, "session_secret_random",
                     " message=\"I2V_SESSION_SECRET is not set: Developer Space sign-ins end when "
                     "this process stops and are not valid on other servers\"");
    }
    svc->blob_url_ttl_s = (int)i2v__opt_int(o, "blob-url-ttl");
    svc->blob_proxy = strcasecmp(i2v__opt_str(o, "blob-proxy"), "on") == 0;
    i2v_store_config sc = {(int)i2v__opt_int(o, "max-attempts"), 10000,
                           (int64_t)(i2v__opt_num(o, "idempotency-hours") * 3600 * 1000)};
    if (i2v__backends_open(be, o, &sc, I2V_BACKEND_BLOBS | I2V_BACKEND_SCRATCH, msg, ml) != 0)
        return -1;
    svc->store = be->store;
    svc->blobs = be->blobs;
    snprintf(svc->scratch_dir, sizeof svc->scratch_dir, "%s", be->scratch);
    return 0;
}

static int run(int argc, char **argv, int http)
{
    const char *cmd = http ? "serve" : "worker";
    i2v_opts o;
    char msg[300];
    if (i2v__opts_parse(&o, serve_opts, NOPTS, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "i2v %s: %s\n", cmd, msg);
        return 2;
    }
    if (i2v__opt_given(&o, "help")) {
        printf("usage: i2v %s [options]\n\n", cmd);
        printf(http ? "Serves Animation API v2, Image to Video API v1, the native API and the "
                      "Developer\nSpace (at /) over HTTP and renders the generations with "
                      "in-process workers.\n\noptions:\n"
                    : "Renders queued generations from the data directory's database (no "
                      "HTTP).\n\noptions:\n");
        i2v__opts_help(stdout, serve_opts, NOPTS);
        return 0;
    }
    if (o.nargs) {
        fprintf(stderr, "i2v %s: unexpected argument '%s'\n", cmd, o.args[0]);
        return 2;
    }
    i2v_service svc;
    i2v_backends be = {0};
    i2v_http *h = NULL;
    i2v_metrics_server *ms = NULL;
    i2v_events *ev = NULL;
    i2v_workers *w = NULL;
    i2v_notifier *n = NULL;
    int status = 1;
    i2v__fetch_global_init();
    if (setup(&svc, &be, &o, http, msg, sizeof msg) != 0) {
        fprintf(stderr, "i2v %s: %s\n", cmd, msg);
        status = 2;
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    i2v_error err = {0};
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(i2v__opt_str(&o, "log-level"), levels[i]) == 0)
            i2v__log_set_level((i2v_log_level)i);
    const char *mlisten = i2v__opt_str(&o, "metrics-listen");
    if (mlisten && *mlisten && i2v__metrics_start(&ms, &svc, mlisten, &err) != 0) {
        fprintf(stderr, "i2v %s: %s\n", cmd, err.message);
        goto out;
    }
    if (http) {
        i2v_events_config ec = {i2v__opt_num(&o, "sse-poll"), i2v__opt_num(&o, "sse-heartbeat"),
                                (int)i2v__opt_int(&o, "sse-max-streams"),
                                (int)i2v__opt_int(&o, "sse-per-user")};
        if (i2v__events_start(&ev, &svc, &ec) != 0) {
            fprintf(stderr, "i2v %s: cannot start threads\n", cmd);
            goto out;
        }
        svc.events = ev;
        i2v_http_config hc = {0};
        snprintf(hc.listen, sizeof hc.listen, "%s", i2v__opt_str(&o, "listen"));
        hc.threads = (int)i2v__opt_int(&o, "http-threads");
        if (hc.threads == 0) hc.threads = strcmp(svc.store->vt->name, "postgres") == 0 ? 8 : 2;
        hc.connection_limit = (int)i2v__opt_int(&o, "connection-limit");
        hc.per_ip_limit = (int)i2v__opt_int(&o, "per-ip-limit");
        hc.timeout_s = (int)i2v__opt_int(&o, "conn-timeout");
        hc.read_timeout_s = i2v__opt_num(&o, "read-timeout");
        hc.header_max = (size_t)i2v__opt_int(&o, "header-max");
        hc.log_requests = strcasecmp(i2v__opt_str(&o, "log-requests"), "on") == 0;
        hc.families = i2v__serve_families(&hc.nfamilies);
        hc.file_paths = i2v__serve_file_paths(&hc.nfile_paths);
        if (i2v__http_start(&h, &svc, &hc, &err) != 0) {
            fprintf(stderr, "i2v %s: %s\n", cmd, err.message);
            goto out;
        }
    }
    char name[128], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "%s:%d", host, (int)getpid());
    const int nworkers = (int)i2v__opt_int(&o, "workers");
    if (i2v__workers_start(&w, &svc, http ? nworkers : (nworkers > 0 ? nworkers : 1), name) != 0 ||
        i2v__notifier_start(&n, &svc) != 0) {
        fprintf(stderr, "i2v %s: cannot start threads\n", cmd);
        goto out;
    }
    char pub[600];
    i2v__log(I2V_LOG_INFO, http ? "serve_started" : "worker_started",
             " listen=%s port=%d metrics_port=%d data=%s store=%s blobs=%s scratch=%s"
             " public_url=%s workers=%d pid=%d version=%s",
             http ? i2v__opt_str(&o, "listen") : "-", h ? i2v__http_port(h) : 0,
             ms ? i2v__metrics_port(ms) : 0, be.data_dir[0] ? be.data_dir : "-", be.store_url,
             be.blobs_url, be.scratch, i2v__log_str(pub, sizeof pub, svc.public_url), nworkers,
             (int)getpid(), I2V_VERSION);
    while (!got_signal)
        usleep(100000);
    i2v__log(I2V_LOG_INFO, "stopping", " signal=%d", (int)got_signal);
    status = 0;
out:
    i2v__events_close(ev); /* no suspended stream may be left when the server stops */
    i2v__http_stop(&h);
    i2v__events_free(&ev);
    svc.events = NULL;
    i2v__metrics_stop(&ms);
    i2v__workers_stop(&w);
    i2v__notifier_stop(&n);
    i2v__review_free(&svc.review);
    i2v__web_free(&svc.web);
    svc.store = NULL;
    svc.blobs = NULL;
    i2v__backends_close(&be);
    if (status == 0) i2v__log(I2V_LOG_INFO, "stopped", " pid=%d", (int)getpid());
    return status;
}

int i2v__cmd_serve(int argc, char **argv)
{
    return run(argc, argv, 1);
}
int i2v__cmd_worker(int argc, char **argv)
{
    return run(argc, argv, 0);
}
