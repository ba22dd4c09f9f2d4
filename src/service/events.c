/* events.c - see events.h. */
#include "events.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "common/error.h"
#include "common/log.h"
#include "metrics.h"

#define SLACK 100             /* ids below the mark that may still commit (PostgreSQL) */
#define RESUME_WINDOW 2000    /* a resumed mark is at most this far back */
#define RESUME_ROWS 1000      /* events sent on opening a user's stream, at most */
#define ID_ENTRIES 64         /* generations named in one event id */
#define PENDING_MAX (1 << 20) /* buffered for a client that does not read: cut off */
#define BLOCK 16384

/* ---- framing ---- */

size_t i2v__sse_format(char *out, size_t cap, const char *id, const char *event, const char *data)
{
    if ((id && strpbrk(id, "\r\n")) || (event && strpbrk(event, "\r\n"))) return 0;
    size_t n = 0;
#define PUT(s, len)                                                                                \
    do {                                                                                           \
        if (n + (len) < cap) memcpy(out + n, (s), (len));                                          \
        n += (len);                                                                                \
    } while (0)
    if (id) {
        PUT("id: ", 4);
        PUT(id, strlen(id));
        PUT("\n", 1);
    }
    if (event) {
        PUT("event: ", 7);
        PUT(event, strlen(event));
        PUT("\n", 1);
    }
    const char *p = data ? data : "";
    for (;;) { /* a data line per line: "\r\n", "\r" and "\n" all end one */
        const size_t k = strcspn(p, "\r\n");
        PUT("data: ", 6);
        PUT(p, k);
        PUT("\n", 1);
        p += k;
        if (!*p) break;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
    }
    PUT("\n", 1);
#undef PUT
    if (cap) out[n < cap ? n : cap - 1] = '\0';
    return n;
}

uint32_t i2v__sse_fingerprint(const char *text, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 16777619u;
    }
    return h;
}

/* ---- streams ---- */

typedef struct track {
    int64_t id;
    uint32_t fp;
    int final;
} track;

typedef struct sub {
    struct sub *prev, *next;
    i2v_events *ev;
    struct MHD_Connection *conn;
    atomic_int refs;
    atomic_int closed; /* the response was freed: the connection is gone */
    int fd;            /* the connection's socket */
    /* under ev->lock */
    int suspended, ended, overflow;
    int gone; /* the client hung up while the connection was parked */
    char user[37];
    int64_t gen;  /* one generation's stream: its internal id; 0: the user's */
    int64_t mark; /* a user's stream: ids above it are new to it */
    track *t;     /* what it sent last, per generation */
    int nt, capt;
    char *buf;
    size_t len, off, cap;
    double last_write; /* i2v__mono() */
} sub;

struct i2v_events {
    i2v_service *svc;
    i2v_events_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sub *subs;
    int nsubs, closing;
    pthread_t hub;
    int hub_running;
};

static void unref(sub *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    free(s->t);
    free(s->buf);
    free(s);
}

/* Appends to s's buffer (under ev->lock); a client that lets more than
 * PENDING_MAX pile up is cut off. */
static void append(sub *s, const char *text, size_t len)
{
    if (s->overflow) return;
    if (s->off && s->off == s->len) s->off = s->len = 0;
    if (s->len - s->off + len > PENDING_MAX) {
        s->overflow = 1;
        return;
    }
    if (s->len + len > s->cap) {
        if (s->off) { /* compact first */
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + len)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            s->overflow = 1;
            return;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    s->last_write = i2v__mono();
}

static void append_event(sub *s, const char *id, const char *json)
{
    char small[4096];
    const size_t n = i2v__sse_format(small, sizeof small, id, "generation", json);
    if (n < sizeof small) {
        append(s, small, n);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) {
        s->overflow = 1;
        return;
    }
    i2v__sse_format(big, n + 1, id, "generation", json);
    append(s, big, n);
    free(big);
}

static track *find_track(sub *s, int64_t id)
{
    for (int i = 0; i < s->nt; i++)
        if (s->t[i].id == id) return &s->t[i];
    return NULL;
}

static track *add_track(sub *s, int64_t id)
{
    if (s->nt == s->capt) {
        const int cap = s->capt ? s->capt * 2 : 8;
        track *nt = realloc(s->t, (size_t)cap * sizeof *nt);
        if (!nt) return NULL;
        s->t = nt;
        s->capt = cap;
    }
    s->t[s->nt] = (track){id, 0, 0};
    return &s->t[s->nt++];
}

/* The event id of s's state: "MARK.ID-FP...", the newest ID_ENTRIES. */
static void event_id(const sub *s, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%" PRId64, s->mark);
    for (int i = s->nt > ID_ENTRIES ? s->nt - ID_ENTRIES : 0; i < s->nt && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, ".%" PRIx64 "-%08" PRIx32, (uint64_t)s->t[i].id,
                              s->t[i].fp);
}

/* Last-Event-ID: the mark and the (id, fingerprint) pairs; -1 when it is
 * not one of ours. */
typedef struct seen {
    int64_t mark;
    int n;
    int64_t id[ID_ENTRIES];
    uint32_t fp[ID_ENTRIES];
} seen;

static int parse_last_id(const char *v, seen *out)
{
    memset(out, 0, sizeof *out);
    if (!v || !*v) return -1;
    char *end;
    long long mark = strtoll(v, &end, 10);
    if (end == v || mark < 0) return -1;
    out->mark = mark;
    while (*end == '.' && out->n < ID_ENTRIES) {
        const char *p = end + 1;
        unsigned long long id = strtoull(p, &end, 16);
        if (end == p || *end != '-') return -1;
        p = end + 1;
        unsigned long fp = strtoul(p, &end, 16);
        if (end == p || fp > 0xffffffffUL) return -1;
        out->id[out->n] = (int64_t)id;
        out->fp[out->n] = (uint32_t)fp;
        out->n++;
    }
    return *end ? -1 : 0;
}

static int was_seen(const seen *sn, int64_t id, uint32_t fp)
{
    for (int i = 0; i < sn->n; i++)
        if (sn->id[i] == id && sn->fp[i] == fp) return 1;
    return 0;
}

/* ---- the response callbacks (MHD's threads) ---- */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sub *s = cls;
    i2v_events *ev = s->ev;
    (void)pos;
    pthread_mutex_lock(&ev->lock);
    if (s->overflow || s->gone) {
        pthread_mutex_unlock(&ev->lock);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->len > s->off) {
        size_t n = s->len - s->off;
        if (n > max) n = max;
        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        pthread_mutex_unlock(&ev->lock);
        return (ssize_t)n;
    }
    if (s->ended || ev->closing) {
        pthread_mutex_unlock(&ev->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* nothing to send: park the connection until the hub has something */
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&ev->lock);
    return 0;
}

static void reader_free(void *cls)
{
    sub *s = cls;
    atomic_store(&s->closed, 1);
    i2v__metrics_sse(-1);
    unref(s);
}

/* ---- the hub ---- */

typedef struct row {
    int64_t id;
    char user[37];
    int final;
    uint32_t fp;
    char *json;
} row;

typedef struct rows {
    const i2v_service *svc;
    row *r;
    int n, cap, limit;
} rows;

static int add_row(void *user, const i2v_gen *g, int wait)
{
    rows *rs = user;
    if (rs->limit && rs->n >= rs->limit) return 1;
    for (int i = rs->n - 1; i >= 0 && i >= rs->n - 4; i--) /* calls overlap at their seams */
        if (rs->r[i].id == g->id) return 0;
    if (rs->n == rs->cap) {
        const int cap = rs->cap ? rs->cap * 2 : 16;
        row *nr = realloc(rs->r, (size_t)cap * sizeof *nr);
        if (!nr) return 1;
        rs->r = nr;
        rs->cap = cap;
    }
    json_t *obj = i2v__native_gen_json(rs->svc, g, wait);
    char *json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!json) return 1;
    row *r = &rs->r[rs->n++];
    r->id = g->id;
    snprintf(r->user, sizeof r->user, "%s", g->user_id);
    r->final = g->state >= I2V_GEN_SUCCEEDED;
    r->fp = i2v__sse_fingerprint(json, strlen(json));
    r->json = json;
    return 0;
}

static void rows_free(rows *rs)
{
    for (int i = 0; i < rs->n; i++)
        free(rs->r[i].json);
    free(rs->r);
    rs->r = NULL;
    rs->n = rs->cap = 0;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_row(const void *a, const void *b)
{
    return cmp_i64(&((const row *)a)->id, &((const row *)b)->id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const row *find_row(const rows *rs, int64_t id)
{
    int lo = 0, hi = rs->n - 1;
    while (lo <= hi) {
        const int mid = (lo + hi) / 2;
        if (rs->r[mid].id == id) return &rs->r[mid];
        if (rs->r[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Reads ids and users in batches of I2V_WATCH_MAX into rs (sorted by id,
 * each once); *max_id the store's largest id. */
static int read_rows(i2v_events *ev, int64_t *ids, int nids, const char **users, int nusers,
                     int64_t after, int64_t *max_id, rows *rs, i2v_error *e)
{
    i2v_store *st = ev->svc->store;
    int i = 0, u = 0, first = 1;
    do {
        const int ni = nids - i > I2V_WATCH_MAX ? I2V_WATCH_MAX : nids - i;
        const int nu = nusers - u > I2V_WATCH_MAX ? I2V_WATCH_MAX : nusers - u;
        int64_t m = 0;
        const int r = st->vt->gen_watch(st, ids + i, ni, users + u, nu, after, first ? &m : NULL,
                                        add_row, rs, e);
        if (r) return r;
        if (first) *max_id = m;
        first = 0;
        i += ni;
        u += nu;
    } while (i < nids || u < nusers);
    if (rs->n > 1) qsort(rs->r, (size_t)rs->n, sizeof *rs->r, cmp_row);
    int k = 0; /* one row per id */
    for (int j = 0; j < rs->n; j++) {
        if (k && rs->r[k - 1].id == rs->r[j].id) {
            free(rs->r[j].json);
            continue;
        }
        rs->r[k++] = rs->r[j];
    }
    rs->n = k;
    return 0;
}

/* Applies one row to a user's stream: an event when it is new to it or
 * changed. */
static void user_row(sub *s, const row *r)
{
    track *t = find_track(s, r->id);
    if (!t) {
        if (r->final && r->id <= s->mark) return; /* an old one, not followed */
        if (!(t = add_track(s, r->id))) {
            s->overflow = 1;
            return;
        }
    } else if (t->fp == r->fp) {
        return;
    }
    t->fp = r->fp;
    t->final = r->final;
    char id[ID_ENTRIES * 28 + 24];
    event_id(s, id, sizeof id);
    append_event(s, id, r->json);
}

/* Drops what a user's stream no longer needs: finished generations at or
 * below its mark (the store read returns them no more). */
static void prune(sub *s)
{
    int k = 0;
    for (int i = 0; i < s->nt; i++)
        if (!(s->t[i].final && s->t[i].id <= s->mark)) s->t[k++] = s->t[i];
    s->nt = k;
}

static void one_event_id(const sub *s, const row *r, char *out, size_t cap)
{
    (void)s;
    snprintf(out, cap, "0.%" PRIx64 "-%08" PRIx32, (uint64_t)r->id, r->fp);
}

static void hub_pass(i2v_events *ev)
{
    int64_t *ids = NULL;
    const char **users = NULL;
    int nids = 0, nusers = 0;
    int64_t after = INT64_MAX;
    sub **wake = NULL, **psub = NULL;
    struct pollfd *pfd = NULL;
    int nwake = 0, npfd = 0;
    const double now = i2v__mono();

    /* what the streams follow */
    pthread_mutex_lock(&ev->lock);
    int cap_ids = 0;
    for (sub *s = ev->subs; s; s = s->next)
        cap_ids += s->gen ? 1 : s->nt;
    ids = malloc(((size_t)cap_ids + 1) * sizeof *ids);
    users = malloc(((size_t)ev->nsubs + 1) * sizeof *users);
    pfd = malloc(((size_t)ev->nsubs + 1) * sizeof *pfd);
    psub = malloc(((size_t)ev->nsubs + 1) * sizeof *psub);
    if (!ids || !users || !pfd || !psub) goto unlock;
    for (sub *s = ev->subs; s; s = s->next) {
        /* a parked connection does not notice its client leaving: the
         * hub looks (it stays open while parked: only the hub resumes it) */
        if (s->suspended && s->fd >= 0 && !atomic_load(&s->closed)) {
            pfd[npfd] = (struct pollfd){.fd = s->fd, .events = POLLIN | POLLRDHUP};
            psub[npfd++] = s;
        }
        if (atomic_load(&s->closed) || s->ended) continue;
        if (s->gen) {
            ids[nids++] = s->gen;
            continue;
        }
        users[nusers++] = s->user; /* lives while the hub holds its ref */
        for (int i = 0; i < s->nt; i++)
            if (!s->t[i].final) ids[nids++] = s->t[i].id;
        if (s->mark < after) after = s->mark;
    }
unlock:
    pthread_mutex_unlock(&ev->lock);
    if (npfd && poll(pfd, (nfds_t)npfd, 0) > 0) {
        pthread_mutex_lock(&ev->lock);
        for (int i = 0; i < npfd; i++)
            if (pfd[i].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                psub[i]->gone = 1; /* a client sends nothing after its request */
        pthread_mutex_unlock(&ev->lock);
    }
    free(pfd);
    free(psub);
    if (nids > 1) qsort(ids, (size_t)nids, sizeof *ids, cmp_i64);
    int k = 0;
    for (int i = 0; i < nids; i++)
        if (!k || ids[k - 1] != ids[i]) ids[k++] = ids[i];
    nids = k;
    if (nusers > 1) qsort(users, (size_t)nusers, sizeof *users, cmp_str);
    k = 0;
    for (int i = 0; i < nusers; i++)
        if (!k || strcmp(users[k - 1], users[i]) != 0) users[k++] = users[i];
    nusers = k;

    rows rs = {ev->svc, NULL, 0, 0, 0};
    int64_t max_id = 0;
    int read_ok = 1;
    if (nids || nusers) {
        i2v_error e = {0};
        if (read_rows(ev, ids, nids, users, nusers, after, &max_id, &rs, &e) != 0) {
            read_ok = 0;
            static double last_warn;
            if (now - last_warn > 10) {
                last_warn = now;
                i2v__log(I2V_LOG_WARN, "sse_read_failed", " error=\"%s\"", e.message);
            }
        }
    }

    /* what changed, to whom; heartbeats; closed streams out */
    pthread_mutex_lock(&ev->lock);
    wake = malloc(((size_t)ev->nsubs + 1) * sizeof *wake);
    for (sub *s = ev->subs, *next; s; s = next) {
        next = s->next;
        if (atomic_load(&s->closed)) {
            if (s->prev)
                s->prev->next = s->next;
            else
                ev->subs = s->next;
            if (s->next) s->next->prev = s->prev;
            ev->nsubs--;
            unref(s);
            continue;
        }
        const size_t before = s->len;
        if (read_ok && !s->ended) {
            if (s->gen) {
                const row *r = find_row(&rs, s->gen);
                if (r && (!s->nt || s->t[0].fp != r->fp)) {
                    if (!s->nt) add_track(s, s->gen);
                    if (s->nt) s->t[0].fp = r->fp;
                    char id[64];
                    one_event_id(s, r, id, sizeof id);
                    append_event(s, id, r->json);
                }
                if (r && r->final) s->ended = 1;
            } else {
                for (int i = 0; i < rs.n; i++)
                    if (strcmp(rs.r[i].user, s->user) == 0) user_row(s, &rs.r[i]);
                if (max_id - SLACK > s->mark) s->mark = max_id - SLACK;
                prune(s);
            }
        }
        if (!s->ended && s->len == before && now - s->last_write >= ev->cfg.heartbeat_s)
            append(s, ": ping\n\n", 8);
        if (s->suspended && (s->len > before || s->ended || s->overflow || s->gone) && wake) {
            s->suspended = 0;
            atomic_fetch_add(&s->refs, 1);
            wake[nwake++] = s;
        }
    }
    pthread_mutex_unlock(&ev->lock);
    /* outside the lock: a suspended connection stays until resumed */
    for (int i = 0; i < nwake; i++) {
        MHD_resume_connection(wake[i]->conn);
        unref(wake[i]);
    }
    free(wake);
    rows_free(&rs);
    free(ids);
    free(users);
}

static void *hub_main(void *arg)
{
    i2v_events *ev = arg;
    pthread_mutex_lock(&ev->lock);
    while (!ev->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const long ns = (long)(ev->cfg.poll_s * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec += ns % 1000000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ev->wake, &ev->lock, &ts);
        if (ev->closing) break;
        const int any = ev->subs != NULL;
        pthread_mutex_unlock(&ev->lock);
        if (any) hub_pass(ev);
        pthread_mutex_lock(&ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

int i2v__events_start(i2v_events **out, i2v_service *svc, const i2v_events_config *cfg)
{
    *out = NULL;
    i2v_events *ev = calloc(1, sizeof *ev);
    if (!ev) return I2V_ENOMEM;
    ev->svc = svc;
    ev->cfg = *cfg;
    if (ev->cfg.poll_s <= 0) ev->cfg.poll_s = 0.2;
    if (ev->cfg.heartbeat_s <= 0) ev->cfg.heartbeat_s = 15;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->wake, NULL);
    if (pthread_create(&ev->hub, NULL, hub_main, ev) != 0) {
        pthread_mutex_destroy(&ev->lock);
        pthread_cond_destroy(&ev->wake);
        free(ev);
        return I2V_ENOMEM;
    }
    ev->hub_running = 1;
    *out = ev;
    return 0;
}

void i2v__events_close(i2v_events *ev)
{
    if (!ev) return;
    pthread_mutex_lock(&ev->lock);
    if (ev->closing) {
        pthread_mutex_unlock(&ev->lock);
        return;
    }
    ev->closing = 1;
    pthread_cond_broadcast(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
    if (ev->hub_running) pthread_join(ev->hub, NULL);
    ev->hub_running = 0;
    /* every parked connection is resumed; its callback then ends it */
    int n = 0;
    pthread_mutex_lock(&ev->lock);
    sub **wake = malloc(((size_t)ev->nsubs + 1) * sizeof *wake);
    for (sub *s = ev->subs; s && wake; s = s->next)
        if (s->suspended) {
            s->suspended = 0;
            atomic_fetch_add(&s->refs, 1);
            wake[n++] = s;
        }
    pthread_mutex_unlock(&ev->lock);
    for (int i = 0; i < n; i++) {
        MHD_resume_connection(wake[i]->conn);
        unref(wake[i]);
    }
    free(wake);
    i2v__log(I2V_LOG_INFO, "sse_closed", " streams=%d", n);
}

void i2v__events_free(i2v_events **evp)
{
    if (!evp || !*evp) return;
    i2v_events *ev = *evp;
    i2v__events_close(ev);
    for (sub *s = ev->subs, *next; s; s = next) {
        next = s->next;
        unref(s);
    }
    pthread_mutex_destroy(&ev->lock);
    pthread_cond_destroy(&ev->wake);
    free(ev);
    *evp = NULL;
}

/* ---- opening a stream (a request thread) ---- */

static int count_open(i2v_events *ev, const char *user, int *mine)
{
    int all = 0;
    *mine = 0;
    for (sub *s = ev->subs; s; s = s->next) {
        if (atomic_load(&s->closed) || s->gone) continue;
        all++;
        *mine += strcmp(s->user, user) == 0;
    }
    return all;
}

/* Adds s (filled) to the hub and queues its response: 0 or -1. */
static int open_stream(i2v_events *ev, i2v_req *r, sub *s)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, reader, s, reader_free);
    if (!resp) {
        unref(s); /* the response's ref */
        unref(s); /* the hub's */
        return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    }
    i2v__metrics_sse(+1);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&ev->lock);
    s->next = ev->subs;
    if (ev->subs) ev->subs->prev = s;
    ev->subs = s;
    ev->nsubs++;
    pthread_mutex_unlock(&ev->lock);
    const int ret = i2v__respond(r, 200, resp);
    MHD_destroy_response(resp); /* a refused queue frees s's response ref here */
    return ret;
}

static sub *new_sub(i2v_events *ev, i2v_req *r, const char *user)
{
    sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ev = ev;
    s->conn = r->conn;
    atomic_init(&s->refs, 2); /* the hub's and the response's */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = ci ? ci->connect_fd : -1;
    snprintf(s->user, sizeof s->user, "%s", user);
    s->last_write = i2v__mono();
    return s;
}

/* 0 when a stream may open; else answers (503, 429) into *ret. */
static int admit(i2v_events *ev, i2v_req *r, const char *user, int *ret)
{
    if (!ev) {
        *ret = i2v__native_error(r, I2V_API_UNAVAILABLE, "live progress is not served here");
        return -1;
    }
    pthread_mutex_lock(&ev->lock);
    int mine;
    const int all = count_open(ev, user, &mine), closing = ev->closing;
    pthread_mutex_unlock(&ev->lock);
    if (closing) {
        *ret = i2v__native_error(r, I2V_API_UNAVAILABLE, "the server is stopping; reconnect");
        return -1;
    }
    if (all >= ev->cfg.max_streams || mine >= ev->cfg.max_per_user) {
        i2v__log(I2V_LOG_WARN, "sse_refused", " user=%s open=%d mine=%d", user, all, mine);
        *ret = i2v__native_error(
            r, I2V_API_TOO_MANY,
            all >= ev->cfg.max_streams ? "too many live progress streams on this server (%d); "
                                         "retry later"
                                       : "too many live progress streams of this user (%d); close "
                                         "one first",
            all >= ev->cfg.max_streams ? ev->cfg.max_streams : ev->cfg.max_per_user);
        return -1;
    }
    return 0;
}

int i2v__events_generation(i2v_service *svc, i2v_req *r, const char *user, const char *id)
{
    i2v_events *ev = svc->events;
    int ret;
    if (admit(ev, r, user, &ret)) return ret;
    i2v_gen *g = malloc(sizeof *g);
    if (!g) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    int wait = 0;
    i2v_error e = {0};
    const int st = svc->store->vt->gen_find(svc->store, user, id, g, &wait, &e);
    if (st) {
        free(g);
        return st == I2V_ENOTFOUND
                   ? i2v__native_error(r, I2V_API_NOTFOUND, "generation %.64s: not found", id)
                   : i2v__api_store_error(r, st, i2v__native_error);
    }
    json_t *obj = i2v__native_gen_json(svc, g, wait);
    char *json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    const int64_t gid = g->id;
    const int final = g->state >= I2V_GEN_SUCCEEDED;
    free(g);
    if (!json) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    const uint32_t fp = i2v__sse_fingerprint(json, strlen(json));
    seen sn;
    const int resumed = parse_last_id(i2v__req_header(r, "Last-Event-ID"), &sn) == 0;
    if (final && resumed && was_seen(&sn, gid, fp)) {
        /* it ended and the client has its last state: 204 tells an
         * EventSource not to reconnect */
        free(json);
        return i2v__respond_text(r, 204, "text/event-stream", "", 0);
    }
    sub *s = new_sub(ev, r, user);
    if (!s) {
        free(json);
        return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    }
    s->gen = gid;
    track *t = add_track(s, gid);
    if (t) t->fp = fp;
    if (!(resumed && was_seen(&sn, gid, fp))) {
        char eid[64];
        const row rr = {gid, "", final, fp, json};
        one_event_id(s, &rr, eid, sizeof eid);
        append_event(s, eid, json);
    }
    s->ended = final;
    free(json);
    return open_stream(ev, r, s);
}

int i2v__events_user(i2v_service *svc, i2v_req *r, const char *user)
{
    i2v_events *ev = svc->events;
    int ret;
    if (admit(ev, r, user, &ret)) return ret;
    seen sn;
    const int resumed = parse_last_id(i2v__req_header(r, "Last-Event-ID"), &sn) == 0;
    rows rs = {svc, NULL, 0, 0, RESUME_ROWS};
    int64_t max_id = 0, after = INT64_MAX;
    i2v_error e = {0};
    const char *users[] = {user};
    int st = 0;
    if (resumed) { /* the newest first: where the mark may go back to */
        st = svc->store->vt->gen_watch(svc->store, NULL, 0, NULL, 0, 0, &max_id, add_row, &rs, &e);
        after = sn.mark < max_id - RESUME_WINDOW ? max_id - RESUME_WINDOW : sn.mark;
    }
    if (!st) st = read_rows(ev, sn.id, resumed ? sn.n : 0, users, 1, after, &max_id, &rs, &e);
    if (st) {
        rows_free(&rs);
        return i2v__api_store_error(r, st, i2v__native_error);
    }
    sub *s = new_sub(ev, r, user);
    if (!s) {
        rows_free(&rs);
        return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    }
    /* what the client has not seen: unfinished ones, and (resumed) those
     * created or changed since its last event */
    s->mark = resumed ? after : max_id;
    for (int i = 0; i < rs.n; i++) {
        const row *rw = &rs.r[i];
        if (strcmp(rw->user, user) != 0) continue; /* a listed id of another user */
        int listed = 0;
        for (int k = 0; resumed && k < sn.n && !listed; k++)
            listed = sn.id[k] == rw->id;
        if (listed) { /* followed before: sent again only when it changed */
            track *t = add_track(s, rw->id);
            if (!t) continue;
            t->final = rw->final;
            if (was_seen(&sn, rw->id, rw->fp)) {
                t->fp = rw->fp;
                continue;
            }
            t->fp = ~rw->fp;
        }
        user_row(s, rw);
    }
    rows_free(&rs);
    if (s->mark < max_id - SLACK) s->mark = max_id - SLACK;
    prune(s);
    return open_stream(ev, r, s);
}
