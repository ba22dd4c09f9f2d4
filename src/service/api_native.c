/*
 * api_native.c - i2v's own API under /api/i2v/v1/ (docs/native-api.md):
 * JSON in and out, the key as "Authorization: Bearer KEY" (or x-api-key),
 * errors as {"error":{"code","message","field"}}, lists as cursor pages
 * {"data":[...],"next_cursor":...}. Generations (create, get, list, cancel,
 * delete outputs), the account, its ledger and its keys, over the same
 * generation record, price table and job store as the two seed APIs: like
 * them it only validates, translates and shapes answers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "blob/blob.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "events.h"
#include "fetch.h"
#include "metrics.h"
#include "price.h"
#include "uploads.h"
#include "web.h"

#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define KEY_NAME_MAX 100
#define ID_MAX 64 /* the longest generation or key id looked up */

/* Error kinds to this API's HTTP status and code, in one table. */

/* The field a message names: its leading "name:" (name of letters, digits
 * and _ - . [ ]), into field[64]; "" when it names none. */
static void field_of(const char *msg, char field[64])
{
    size_t n = 0;
    field[0] = '\0';
    while (msg[n] && n < 63 &&
           (strchr("_-.[]", msg[n]) || (msg[n] >= 'a' && msg[n] <= 'z') ||
            (msg[n] >= 'A' && msg[n] <= 'Z') || (msg[n] >= '0' && msg[n] <= '9')))
        n++;
    if (n == 0 || msg[n] != ':') return;
    memcpy(field, msg, n);
    field[n] = '\0';
}

int i2v__native_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
{
    char msg[512], field[64] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (kind == I2V_API_PARAM || kind == I2V_API_IDEMPOTENCY || kind == I2V_API_TOO_LARGE)
        field_of(msg, field);
    json_t *e = json_pack("{s:s, s:s, s:o}", "code", i2v__api_codes[kind].code, "message", msg,
                          "field", field[0] ? json_string(field) : json_null());
    return i2v__respond_json(r, i2v__api_codes[kind].status, json_pack("{s:o}", "error", e));
}

/* The caller's user from "Authorization: Bearer KEY" (or x-api-key), or
 * else from the Developer Space's session cookie (with its CSRF token on a
 * change): 0, or 1 after answering (*ret set). */
#define AUTH_MSG "missing or invalid API key (send Authorization: Bearer YOUR_API_KEY)"

/* The API key the request sends (NULL: none), or -1 after answering a
 * malformed Authorization header (*ret set). */
static int key_of(i2v_req *r, const char **key, int *ret)
{
    const char *h = i2v__req_header(r, "Authorization");
    *key = i2v__req_header(r, "x-api-key");
    if (!h) return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *ret = i2v__native_error(r, I2V_API_AUTH, "Authorization: must be \"Bearer YOUR_API_KEY\"");
        return -1;
    }
    for (*key = h + 7; **key == ' ';)
        (*key)++;
    return 0;
}

/* Does the request send an API key (else a session cookie is looked for)? */
static int sends_key(i2v_req *r)
{
    return i2v__req_header(r, "x-api-key") || i2v__req_header(r, "Authorization");
}

static int auth(i2v_service *svc, i2v_req *r, char user[37], int *ret)
{
    const char *key;
    if (!sends_key(r)) {
        const int s = i2v__web_auth(svc, r, user, ret);
        if (s >= 0) return s;
    }
    if (key_of(r, &key, ret) != 0) return 1;
    return i2v__api_auth_key(svc, r, key, user, i2v__native_error, AUTH_MSG, ret);
}

int i2v__native_auth(i2v_service *svc, i2v_req *r, char user[37], int *ret)
{
    return auth(svc, r, user, ret);
}

/* ISO 8601 UTC with milliseconds, or null for 0. */
static json_t *iso(int64_t ms)
{
    return i2v__api_time(ms);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* ---- the generation object ---- */

/* The request as given, normalised: every field present, defaults filled,
 * "format" as the "size" it stands for. */
static json_t *input_json(const i2v_gen *g)
{
    json_t *urls = json_array();
    json_array_append_new(urls, json_string(g->image_url));
    char more[sizeof g->more_urls];
    snprintf(more, sizeof more, "%s", g->more_urls);
    for (char *save = NULL, *u = strtok_r(more, "\n", &save); u; u = strtok_r(NULL, "\n", &save))
        json_array_append_new(urls, json_string(u));
    char size[24];
    snprintf(size, sizeof size, "%dx%d", g->width, g->height);
    json_t *in = json_object();
    json_object_set_new(in, "image_urls", urls);
    json_object_set_new(in, "last_image_url", str_or_null(g->last_image_url));
    json_object_set_new(in, "move", json_string(g->move));
    json_object_set_new(in, "prompt", g->has_prompt ? json_string(g->prompt) : json_null());
    json_object_set_new(in, "duration", json_integer(g->duration));
    json_object_set_new(in, "resolution", str_or_null(g->resolution));
    json_object_set_new(in, "size", g->resolution[0] ? json_null() : json_string(size));
    json_object_set_new(in, "model", json_string(g->model == I2V_MODEL_BASE ? "base" : "flash"));
    json_object_set_new(in, "audio", json_boolean(g->audio));
    json_object_set_new(in, "webhook", str_or_null(g->webhook));
    return in;
}

/* A finished generation's error_code: prohibited_content (the output review
 * refused it), cancelled, failed; NULL while it has not failed. */
static const char *error_code(int state, const i2v_gen *g)
{
    if (state == I2V_GEN_CANCELLED) return "cancelled";
    if (state != I2V_GEN_FAILED) return NULL;
    return g->error_code == I2V_ERROR_PROHIBITED ? "prohibited_content" : "failed";
}

static json_t *json_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The generation object (docs/native-api.md). as_created: the generation
 * as the create made it, whatever happened since -- the create's answer
 * depends on nothing else, so an Idempotency-Key replay repeats its bytes. */
static json_t *gen_json(const i2v_service *svc, const i2v_gen *g, int wait, int as_created)
{
    static const char *const source[] = {"?", "v1", "v2", "native"};
    const int state = as_created ? I2V_GEN_QUEUED : g->state;
    const int finished = state >= I2V_GEN_SUCCEEDED;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(g->uuid));
    json_object_set_new(o, "task_id", json_integer((json_int_t)g->task_id));
    json_object_set_new(o, "project_id", json_string(g->project_id));
    json_object_set_new(o, "source",
                        json_string(g->api >= 1 && g->api <= 3 ? source[g->api] : "?"));
    json_object_set_new(o, "state", json_string(i2v__gen_state_name(state)));
    json_object_set_new(o, "progress", json_integer(as_created ? 0 : g->progress));
    json_object_set_new(o, "queue_position",
                        as_created || finished ? json_null()
                                               : json_integer(state == I2V_GEN_QUEUED ? wait : 0));
    json_object_set_new(o, "cancel_requested", json_boolean(!as_created && g->cancel_requested));
    json_object_set_new(o, "price", json_integer(g->price));
    json_object_set_new(o, "input", input_json(g));
    json_t *outputs = json_null();
    if (state == I2V_GEN_SUCCEEDED && !g->outputs_deleted_ms) {
        char video[1024], cover[1024];
        i2v__output_urls(svc, g, video, cover);
        outputs = json_pack("{s:s, s:s, s:i, s:i}", "video", video, "cover", cover, "width",
                            g->out_width, "height", g->out_height);
    }
    json_object_set_new(o, "outputs", outputs);
    json_object_set_new(o, "outputs_deleted_at", iso(as_created ? 0 : g->outputs_deleted_ms));
    json_object_set_new(o, "prompt", as_created ? json_null() : str_or_null(g->plan_prompt));
    json_object_set_new(o, "error",
                        state == I2V_GEN_FAILED || state == I2V_GEN_CANCELLED
                            ? json_string(g->error[0] ? g->error : "failed")
                            : json_null());
    json_object_set_new(o, "error_code", json_string_or_null(error_code(state, g)));
    json_object_set_new(o, "created_at", iso(g->created_ms));
    json_object_set_new(o, "started_at", iso(as_created ? 0 : g->started_ms));
    json_object_set_new(o, "finished_at", iso(as_created ? 0 : g->finished_ms));
    return o;
}

json_t *i2v__native_gen_json(const i2v_service *svc, const i2v_gen *g, int wait)
{
    return gen_json(svc, g, wait, 0);
}

/* ---- create ---- */

static const char *const create_fields[] = {
    "image_url", "image_urls", "last_image_url", "move",  "prompt",  "duration", "resolution",
    "format",    "size",       "model",          "audio", "webhook", NULL};

/* A JSON value that is absent or null counts as not given. */
static json_t *given(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);
    return v && !json_is_null(v) ? v : NULL;
}

/* An optional URL field: 0 with *out (NULL when not given), or -1. */
static int url_field(json_t *body, const char *name, const char **out, char *msg, size_t ml)
{
    char why[96];
    json_t *v = given(body, name);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) return i2v__api_param(msg, ml, "%s: must be a URL string", name);
    if (!i2v__url_ok(json_string_value(v), why, sizeof why))
        return i2v__api_param(msg, ml, "%s: %s", name, why);
    *out = json_string_value(v);
    return 0;
}

/* "WxH": both even, 128..4096. */
static int parse_size(const char *s, int *w, int *h)
{
    char *end;
    const long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X') || end[1] < '0' || end[1] > '9') return -1;
    const char *p = end + 1;
    const long b = strtol(p, &end, 10);
    if (*end || a < 128 || b < 128 || a > 4096 || b > 4096 || a % 2 || b % 2) return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

int i2v__native_request(json_t *body, i2v_gen *g, char *msg, size_t ml)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        int known = 0;
        for (int i = 0; create_fields[i] && !known; i++)
            known = strcmp(k, create_fields[i]) == 0;
        if (!known) return i2v__api_param(msg, ml, "%.64s: unknown field", k);
    }
    /* the photos: one, several (a tour), or a first and a last */
    json_t *one = given(body, "image_url"), *many = given(body, "image_urls");
    const char *first = NULL, *last = NULL;
    if (one && many)
        return i2v__api_param(msg, ml, "image_urls: give image_url or image_urls, not both");
    if (!one && !many)
        return i2v__api_param(msg, ml, "image_url: required (or image_urls, a list of URLs)");
    if (one && url_field(body, "image_url", &first, msg, ml) != 0) return -1;
    size_t nurls = 1;
    if (many) {
        char why[96];
        nurls = json_is_array(many) ? json_array_size(many) : 0;
        if (nurls == 0)
            return i2v__api_param(msg, ml, "image_urls: a non-empty array of URL strings");
        if (nurls > I2V_PHOTOS_MAX)
            return i2v__api_param(msg, ml, "image_urls: at most %d photos", I2V_PHOTOS_MAX);
        for (size_t i = 0; i < nurls; i++) {
            json_t *u = json_array_get(many, i);
            if (!json_is_string(u))
                return i2v__api_param(msg, ml, "image_urls[%zu]: must be a URL string", i);
            if (!i2v__url_ok(json_string_value(u), why, sizeof why))
                return i2v__api_param(msg, ml, "image_urls[%zu]: %s", i, why);
        }
        first = json_string_value(json_array_get(many, 0));
    }
    if (url_field(body, "last_image_url", &last, msg, ml) != 0) return -1;
    if (last && nurls > 1)
        return i2v__api_param(msg, ml,
                              "last_image_url: first-last takes one first photo, not a tour");
    /* the move: named, or read from the prompt, or chosen by the planner */
    i2v_move move = I2V_MOVE_AUTO_EFFECTS;
    json_t *mv = given(body, "move");
    if (mv && (!json_is_string(mv) || i2v_move_parse(json_string_value(mv), &move) != 0))
        return i2v__api_param(msg, ml,
                              "move: one of ZOOM_IN, ZOOM_OUT, PAN_RIGHT, PAN_LEFT, PAN_UP, "
                              "PAN_DOWN, CAMERA_PUSH_OUT, AUTO_EFFECTS, AUTO_REVERSE, DOLLY_IN, "
                              "DOLLY_OUT, TRUCK_LEFT, TRUCK_RIGHT, ORBIT");
    const char *prompt;
    if (i2v__api_prompt(body, &prompt, msg, ml) != 0) return -1;
    if (!mv) i2v_prompt_move(prompt, &move);
    int duration = 5;
    json_t *d = given(body, "duration");
    if (d) {
        if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 30)
            return i2v__api_param(msg, ml, "duration: an integer from 1 to 30 (seconds)");
        duration = (int)json_integer_value(d);
    }
    /* the size: a resolution (fitted to a portrait photo), a format or an
     * exact size; at most one */
    json_t *res_v = given(body, "resolution"), *fmt_v = given(body, "format"),
           *size_v = given(body, "size");
    if (!!res_v + !!fmt_v + !!size_v > 1)
        return i2v__api_param(msg, ml, "%s: give one of resolution, format or size",
                              size_v ? "size" : "format");
    i2v_resolution res = I2V_RES_720P;
    int width = 0, height = 0;
    if (res_v && (!json_is_string(res_v) || i2v__resolution_parse(json_string_value(res_v), &res)))
        return i2v__api_param(msg, ml, "resolution: one of 480p, 720p, 1080p");
    if (fmt_v) {
        const char *f = json_is_string(fmt_v) ? json_string_value(fmt_v) : "";
        if (strcmp(f, "portrait") != 0 && strcmp(f, "landscape") != 0)
            return i2v__api_param(msg, ml, "format: portrait (768x1280) or landscape (1280x768)");
        width = f[0] == 'p' ? 768 : 1280;
        height = f[0] == 'p' ? 1280 : 768;
    }
    if (size_v &&
        (!json_is_string(size_v) || parse_size(json_string_value(size_v), &width, &height) != 0))
        return i2v__api_param(
            msg, ml, "size: \"WIDTHxHEIGHT\", even numbers from 128 to 4096 (\"1280x720\")");
    int base = 0;
    json_t *m = given(body, "model");
    if (m) {
        const char *s = json_is_string(m) ? json_string_value(m) : "";
        if (strcmp(s, "flash") != 0 && strcmp(s, "base") != 0)
            return i2v__api_param(msg, ml, "model: flash or base");
        base = s[0] == 'b';
    }
    json_t *a = given(body, "audio");
    if (a && !json_is_boolean(a)) return i2v__api_param(msg, ml, "audio: true or false");
    const int audio = a && json_is_true(a);
    if (audio && !base)
        return i2v__api_param(msg, ml, "audio: only the base model makes audio (model: base)");
    const char *hook;
    if (url_field(body, "webhook", &hook, msg, ml) != 0) return -1;

    g->api = 3;
    snprintf(g->image_url, sizeof g->image_url, "%s", first);
    size_t n = 0;
    for (size_t i = 1; i < nurls; i++)
        n += (size_t)snprintf(g->more_urls + n, sizeof g->more_urls - n, "%s%s", i > 1 ? "\n" : "",
                              json_string_value(json_array_get(many, i)));
    if (last) snprintf(g->last_image_url, sizeof g->last_image_url, "%s", last);
    if (prompt) {
        g->has_prompt = 1;
        snprintf(g->prompt, sizeof g->prompt, "%s", prompt);
    }
    snprintf(g->move, sizeof g->move, "%s", i2v_move_name(move));
    g->duration = duration;
    if (width) {
        g->width = width;
        g->height = height;
        g->fit_portrait = 0;
    } else {
        snprintf(g->resolution, sizeof g->resolution, "%s", i2v__resolution_name(res));
        i2v__resolution_size(res, &g->width, &g->height);
        g->fit_portrait = 1;
    }
    g->model = base ? I2V_MODEL_BASE : I2V_MODEL_FLASH;
    g->audio = audio;
    g->audio_given = a != NULL;
    if (hook) snprintf(g->webhook, sizeof g->webhook, "%s", hook);
    g->price = width ? i2v__price_size(base, audio, width, height, duration)
                     : i2v__price(base, audio, res, duration);
    return 0;
}

static int native_read(const i2v_service *svc, json_t *body, i2v_gen *g, char *msg, size_t ml)
{
    if (i2v__native_request(body, g, msg, ml) != 0) return -1;
    /* an upload's URL: its owner's, not expired */
    const int list = given(body, "image_urls") != NULL;
    return i2v__upload_check_gen(svc, g, list ? "image_urls[0]" : "image_url", "image_urls[%d]", 1,
                                 "last_image_url", msg, ml);
}

static int native_created(i2v_service *svc, i2v_req *r, const i2v_gen *g, int64_t balance)
{
    (void)balance;
    return i2v__respond_json(r, 201, gen_json(svc, g, 0, 1));
}

static int gen_create(i2v_service *svc, i2v_req *r, const char *user)
{
    char msg[256];
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    if (!body) return i2v__native_error(r, I2V_API_PARAM, "%s", msg);
    return i2v__api_generate(svc, r, user, body, native_read, native_created, i2v__native_error);
}

/* POST /generations/quote: a create body checked exactly as a create
 * checks it (the prompt review too), priced, charging nothing. */
static int gen_quote(i2v_service *svc, i2v_req *r)
{
    char user[37], msg[256];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    if (!body) return i2v__native_error(r, I2V_API_PARAM, "%s", msg);
    i2v_gen *g = calloc(1, sizeof *g);
    i2v_user u;
    i2v_error e = {0};
    int s;
    if (!g)
        ret = i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    else if (i2v__native_request(body, g, msg, sizeof msg) != 0)
        ret = i2v__native_error(r, I2V_API_PARAM, "%s", msg);
    else if (g->has_prompt && i2v__review_check(svc->review, g->prompt))
        ret = i2v__native_error(r, I2V_API_REVIEW, "prompt: refused by the content review");
    else if ((s = svc->store->vt->user_get(svc->store, user, &u, &e)) != 0)
        ret = i2v__api_store_error(r, s, i2v__native_error);
    else {
        const int per_video = svc->v2_video_credits > 0 ? svc->v2_video_credits : 1;
        ret = i2v__respond_json(r, 200,
                                json_pack("{s:i, s:I, s:I, s:b, s:I}", "price", g->price, "balance",
                                          (json_int_t)u.balance, "remaining_videos",
                                          (json_int_t)(u.balance / per_video), "enough",
                                          u.balance >= g->price, "affordable",
                                          (json_int_t)(g->price > 0 ? u.balance / g->price : 0)));
    }
    free(g);
    json_decref(body);
    return ret;
}

/* ---- pages ---- */

/* ?limit= (1..PAGE_MAX, default PAGE_DEFAULT) and ?cursor= (kind followed
 * by a positive id: "g_123"): 0, or -1 after answering (*ret set). */
static int page_query(i2v_req *r, char kind, int *limit, int64_t *before, int *ret)
{
    const char *l = i2v__req_query(r, "limit"), *c = i2v__req_query(r, "cursor");
    *limit = PAGE_DEFAULT;
    *before = 0;
    if (l) {
        char *end;
        const long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > PAGE_MAX) {
            *ret = i2v__native_error(r, I2V_API_PARAM, "limit: an integer from 1 to %d", PAGE_MAX);
            return -1;
        }
        *limit = (int)v;
    }
    if (c && *c) {
        char *end = NULL;
        const long long v = c[0] == kind && c[1] == '_' ? strtoll(c + 2, &end, 10) : 0;
        if (v <= 0 || !end || *end || c[2] < '0' || c[2] > '9') {
            *ret = i2v__native_error(r, I2V_API_PARAM,
                                     "cursor: not a cursor of this list (pass next_cursor as is)");
            return -1;
        }
        *before = v;
    }
    return 0;
}

static json_t *page_json(json_t *data, char kind, int more, int64_t last)
{
    char cur[32];
    snprintf(cur, sizeof cur, "%c_%lld", kind, (long long)last);
    return json_pack("{s:o, s:o}", "data", data, "next_cursor",
                     more ? json_string(cur) : json_null());
}

/* One page of a list being read: the store is asked for one row more than
 * the limit, which tells whether there is a next page. */
typedef struct page {
    const i2v_service *svc;
    json_t *data;
    int limit, n, more;
    int64_t last;
} page;

/* A row callback's start: 1 (stop the store's walk) once the page is full. */
static int page_full(page *p)
{
    if (p->n < p->limit) return 0;
    p->more = 1;
    return 1;
}

static int page_add(page *p, json_t *item, int64_t id)
{
    json_array_append_new(p->data, item);
    p->n++;
    p->last = id;
    return 0;
}

/* The page (cursors of kind), or the store's error s. */
static int page_answer(i2v_req *r, page *p, char kind, int s)
{
    if (s) {
        json_decref(p->data);
        return i2v__api_store_error(r, s, i2v__native_error);
    }
    return i2v__respond_json(r, 200, page_json(p->data, kind, p->more, p->last));
}

static int gen_row(void *user, const i2v_gen *g, int wait)
{
    page *p = user;
    return page_full(p) ? 1 : page_add(p, gen_json(p->svc, g, wait, 0), g->id);
}

static int gen_list(i2v_service *svc, i2v_req *r, const char *user)
{
    int ret, limit, state = -1;
    int64_t before;
    if (page_query(r, 'g', &limit, &before, &ret) != 0) return ret;
    const char *st = i2v__req_query(r, "state");
    if (st && *st) {
        for (int i = 0; i <= I2V_GEN_CANCELLED && state < 0; i++)
            if (strcmp(st, i2v__gen_state_name(i)) == 0) state = i;
        if (state < 0)
            return i2v__native_error(r, I2V_API_PARAM,
                                     "state: one of queued, running, succeeded, failed, cancelled");
    }
    page p = {svc, json_array(), limit, 0, 0, 0};
    i2v_error e = {0};
    return page_answer(
        r, &p, 'g',
        svc->store->vt->gen_page(svc->store, user, state, before, limit + 1, gen_row, &p, &e));
}

static int gens(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    return strcmp(r->method, "POST") == 0 ? gen_create(svc, r, user) : gen_list(svc, r, user);
}

/* ---- one generation: get, cancel, delete its outputs ---- */

/* An id from a path (letters, digits, - and _; at most ID_MAX), lower-cased
 * into out[ID_MAX + 1]: 0, or -1. */
static int path_id(const char *s, size_t n, char *out)
{
    if (n == 0 || n > ID_MAX) return -1;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return -1;
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return 0;
}

static int not_found(i2v_req *r, const char *what, const char *id)
{
    return i2v__native_error(r, I2V_API_NOTFOUND, "%s %.64s: not found", what, id);
}

static int gen_get(i2v_service *svc, i2v_req *r, const char *id, i2v_gen *g, const char *user)
{
    int wait = 0;
    i2v_error e = {0};
    const int s = svc->store->vt->gen_find(svc->store, user, id, g, &wait, &e);
    if (s == I2V_ENOTFOUND) return not_found(r, "generation", id);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    return i2v__respond_json(r, 200, gen_json(svc, g, wait, 0));
}

/* GET /generations/{id} with an API key: the key and the generation by
 * task_id or id in one store read (parked on PostgreSQL); a project_id is
 * looked for after. */
static int poll(i2v_service *svc, i2v_req *r, const char *key, const char *id)
{
    char user[37];
    int ret, wait = 0;
    i2v_gen *g;
    const int64_t task = i2v__task_id_of(id);
    const int s = i2v__api_auth_get(svc, r, key, task, task > 0 ? NULL : id, user, &g, &wait,
                                    i2v__native_error, AUTH_MSG, &ret);
    if (s == 2) return 0; /* parked: called again with the answer */
    if (s == 1) return ret;
    if (s == I2V_ENOTFOUND && task <= 0) return gen_get(svc, r, id, g, user);
    if (s == I2V_ENOTFOUND) return not_found(r, "generation", id);
    return i2v__respond_json(r, 200, gen_json(svc, g, wait, 0));
}

static int gen_cancel(i2v_service *svc, i2v_req *r, const char *id, i2v_gen *g, const char *user)
{
    i2v_error e = {0};
    int s = svc->store->vt->gen_find(svc->store, user, id, g, NULL, &e);
    if (s == 0) s = svc->store->vt->gen_cancel(svc->store, user, g->id, g, &e);
    if (s == I2V_ENOTFOUND) return not_found(r, "generation", id);
    if (s == I2V_ESTATE)
        return i2v__native_error(r, I2V_API_CONFLICT,
                                 "generation %s: already %s; only a queued or running generation "
                                 "can be cancelled",
                                 g->uuid, i2v__gen_state_name(g->state));
    if (s < 0) return i2v__api_store_error(r, s, i2v__native_error);
    /* 0: cancelled now (refunded); 1: its worker stops it within a second */
    if (s == 0) i2v__metrics_refunded(g->price);
    i2v__log(I2V_LOG_INFO, s ? "generation_cancel_requested" : "generation_cancelled",
             " task_id=%lld generation_id=%s user=%s refund=%d", (long long)g->task_id, g->uuid,
             user, s ? 0 : g->price);
    return i2v__respond_json(r, s ? 202 : 200, gen_json(svc, g, 0, 0));
}

/* Removes one output file; a missing one is fine (a retried DELETE). */
static int remove_output(i2v_service *svc, const char *key, const char *ext, i2v_error *e)
{
    char name[48];
    i2v__output_name(key, ext, name);
    const int s = i2v__blob_remove(svc->blobs, name, e);
    return s == I2V_ENOTFOUND ? 0 : s;
}

static int gen_delete(i2v_service *svc, i2v_req *r, const char *id, i2v_gen *g, const char *user)
{
    i2v_error e = {0};
    int s = svc->store->vt->gen_find(svc->store, user, id, g, NULL, &e);
    if (s == 0) s = svc->store->vt->gen_delete_outputs(svc->store, user, g->id, g, &e);
    if (s == I2V_ENOTFOUND) return not_found(r, "generation", id);
    if (s == I2V_ESTATE)
        return i2v__native_error(r, I2V_API_CONFLICT,
                                 "generation %s: still %s; cancel it first (POST "
                                 "/api/i2v/v1/generations/%s/cancel)",
                                 g->uuid, i2v__gen_state_name(g->state), g->uuid);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    /* the record says deleted first, so its URLs are no longer handed out;
     * a DELETE retried after a failure here removes what is left */
    if (g->out_key[0] && ((s = remove_output(svc, g->out_key, "mp4", &e)) ||
                          (s = remove_output(svc, g->out_key, "jpg", &e)))) {
        i2v__log(I2V_LOG_WARN, "outputs_delete_failed", " task_id=%lld error=\"%s\"",
                 (long long)g->task_id, e.message);
        return s == I2V_EUNAVAILABLE
                   ? i2v__native_error(r, I2V_API_UNAVAILABLE,
                                       "outputs: the blob store is unavailable; retry the DELETE")
                   : i2v__native_error(r, I2V_API_INTERNAL,
                                       "outputs: could not be removed; retry the DELETE");
    }
    i2v__log(I2V_LOG_INFO, "generation_outputs_deleted", " task_id=%lld generation_id=%s user=%s",
             (long long)g->task_id, g->uuid, user);
    return i2v__respond_json(r, 200, gen_json(svc, g, 0, 0));
}

static int gen_item(i2v_service *svc, i2v_req *r)
{
    char user[37], id[ID_MAX + 1];
    int ret;
    const char *rest = r->path + strlen(I2V_NATIVE_PREFIX "generations/");
    const char *slash = strchr(rest, '/');
    const size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    const int cancel = slash && strcmp(slash, "/cancel") == 0;
    const int events = slash && strcmp(slash, "/events") == 0;
    const char *m = r->method;
    if ((slash && !cancel && !events) || path_id(rest, n, id) != 0)
        return i2v__native_error(r, I2V_API_NOTFOUND, "%s %.200s: no such endpoint", m, r->path);
    r->route = cancel   ? I2V_NATIVE_PREFIX "generations/{id}/cancel"
               : events ? I2V_NATIVE_PREFIX "generations/{id}/events"
                        : I2V_NATIVE_PREFIX "generations/{id}";
    if (events) {
        if (strcmp(m, "GET") != 0)
            return i2v__native_error(r, I2V_API_METHOD, "method %s is not allowed on %.200s", m,
                                     r->path);
        if (auth(svc, r, user, &ret)) return ret;
        return i2v__events_generation(svc, r, user, id);
    }
    if (cancel ? strcmp(m, "POST") != 0 : strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0)
        return i2v__native_error(r, I2V_API_METHOD, "method %s is not allowed on %.200s", m,
                                 r->path);
    const char *key = NULL;
    if (!cancel && strcmp(m, "GET") == 0 && sends_key(r)) {
        /* a status poll with a key: the key and the generation in one read */
        if (key_of(r, &key, &ret) != 0) return ret;
        return poll(svc, r, key, id);
    }
    if (auth(svc, r, user, &ret)) return ret;
    i2v_gen *g = calloc(1, sizeof *g);
    if (!g) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    if (cancel)
        ret = gen_cancel(svc, r, id, g, user);
    else if (strcmp(m, "DELETE") == 0)
        ret = gen_delete(svc, r, id, g, user);
    else
        ret = gen_get(svc, r, id, g, user);
    free(g);
    return ret;
}

/* ---- account and ledger ---- */

static int account(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    i2v_user u;
    i2v_error e = {0};
    const int s = svc->store->vt->user_get(svc->store, user, &u, &e);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    const int per_video = svc->v2_video_credits > 0 ? svc->v2_video_credits : 1;
    return i2v__respond_json(r, 200,
                             json_pack("{s:s, s:s, s:I, s:I, s:i, s:o}", "user_id", u.id, "name",
                                       u.name, "balance", (json_int_t)u.balance, "remaining_videos",
                                       (json_int_t)(u.balance / per_video), "video_price",
                                       per_video, "created_at", iso(u.created_ms)));
}

static int ledger_row(void *user, const i2v_ledger_row *row)
{
    page *p = user;
    if (page_full(p)) return 1;
    return page_add(p,
                    json_pack("{s:I, s:s, s:I, s:I, s:o, s:o, s:o}", "id", (json_int_t)row->id,
                              "kind", row->kind, "amount", (json_int_t)row->amount, "balance_after",
                              (json_int_t)row->balance_after, "generation_id",
                              str_or_null(row->generation), "note", str_or_null(row->note),
                              "created_at", iso(row->created_ms)),
                    row->id);
}

static int ledger(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret, limit;
    int64_t before;
    if (auth(svc, r, user, &ret)) return ret;
    if (page_query(r, 'l', &limit, &before, &ret) != 0) return ret;
    page p = {svc, json_array(), limit, 0, 0, 0};
    i2v_error e = {0};
    return page_answer(
        r, &p, 'l',
        svc->store->vt->ledger_page(svc->store, user, before, limit + 1, ledger_row, &p, &e));
}

/* ---- keys ---- */

static json_t *key_json(const i2v_key_info *k)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:b}", "key_id", k->prefix, "name", str_or_null(k->name),
                     "created_at", iso(k->created_ms), "last_used_at", iso(k->last_used_ms),
                     "revoked", k->revoked);
}

typedef struct key_find {
    json_t *data;       /* every key, or */
    const char *prefix; /* only this one, into found */
    json_t *found;
} key_find;

static int key_row(void *user, const i2v_key_info *k)
{
    key_find *f = user;
    if (f->data) json_array_append_new(f->data, key_json(k));
    if (f->prefix && strcmp(k->prefix, f->prefix) == 0) {
        f->found = key_json(k);
        return 1;
    }
    return 0;
}

/* The user's key with prefix as JSON, or NULL (store error in *s). */
static json_t *key_get(i2v_service *svc, const char *user, const char *prefix, int *s)
{
    key_find f = {NULL, prefix, NULL};
    i2v_error e = {0};
    *s = svc->store->vt->key_list(svc->store, user, key_row, &f, &e);
    return f.found;
}

static int key_create(i2v_service *svc, i2v_req *r, const char *user)
{
    char msg[256];
    const char *name = NULL;
    if (i2v__req_header(r, "Idempotency-Key"))
        return i2v__native_error(r, I2V_API_PARAM,
                                 "Idempotency-Key: not taken here: a new key is shown once and "
                                 "never stored, so its answer cannot be replayed");
    json_t *body = NULL;
    if (r->body_len) {
        body = i2v__api_body(r, msg, sizeof msg);
        if (!body) return i2v__native_error(r, I2V_API_PARAM, "%s", msg);
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "name") != 0) {
                const int ret = i2v__native_error(r, I2V_API_PARAM, "%.64s: unknown field", k);
                json_decref(body);
                return ret;
            }
        }
        int ok = i2v__json_opt_string(body, "name", &name) == 0 &&
                 (!name || strlen(name) <= KEY_NAME_MAX);
        for (const char *p = name; ok && p && *p; p++)
            ok = (unsigned char)*p >= ' ' && *p != 0x7f;
        if (!ok) {
            json_decref(body);
            return i2v__native_error(r, I2V_API_PARAM,
                                     "name: a string of at most %d characters, no control "
                                     "characters",
                                     KEY_NAME_MAX);
        }
    }
    char key[I2V_KEY_LEN + 1], hash[I2V_HASH_HEX + 1], prefix[13];
    i2v__new_api_key(key);
    i2v__sha256_hex(key, strlen(key), hash);
    memcpy(prefix, key, 12);
    prefix[12] = '\0';
    i2v_error e = {0};
    int s = svc->store->vt->key_add_named(svc->store, user, hash, prefix, name ? name : "", &e);
    json_decref(body); /* name lived in it */
    json_t *k = s ? NULL : key_get(svc, user, prefix, &s);
    memset(hash, 0, sizeof hash);
    if (!k) {
        memset(key, 0, sizeof key);
        return i2v__api_store_error(r, s ? s : I2V_EINTERNAL, i2v__native_error);
    }
    json_object_set_new(k, "api_key", json_string(key)); /* shown this once */
    memset(key, 0, sizeof key);
    i2v__log(I2V_LOG_INFO, "key_created", " user=%s key_id=%s", user, prefix);
    return i2v__respond_json(r, 201, k);
}

static int keys(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    if (strcmp(r->method, "POST") == 0) return key_create(svc, r, user);
    key_find f = {json_array(), NULL, NULL};
    i2v_error e = {0};
    const int s = svc->store->vt->key_list(svc->store, user, key_row, &f, &e);
    if (s) {
        json_decref(f.data);
        return i2v__api_store_error(r, s, i2v__native_error);
    }
    return i2v__respond_json(r, 200, page_json(f.data, 'k', 0, 0));
}

static int key_item(i2v_service *svc, i2v_req *r)
{
    char user[37], id[ID_MAX + 1];
    int ret;
    const char *rest = r->path + strlen(I2V_NATIVE_PREFIX "keys/");
    if (path_id(rest, strlen(rest), id) != 0 || strlen(rest) > 23) return not_found(r, "key", rest);
    if (auth(svc, r, user, &ret)) return ret;
    snprintf(id, sizeof id, "%s", rest); /* key ids are case-sensitive */
    i2v_error e = {0};
    int s = svc->store->vt->key_revoke_own(svc->store, user, id, &e);
    if (s == I2V_ENOTFOUND) return not_found(r, "key", id);
    json_t *k = s ? NULL : key_get(svc, user, id, &s);
    if (!k) return i2v__api_store_error(r, s ? s : I2V_EINTERNAL, i2v__native_error);
    i2v__log(I2V_LOG_INFO, "key_revoked", " user=%s key_id=%s", user, id);
    return i2v__respond_json(r, 200, k);
}

/* ---- webhooks: the secret and the delivery log ---- */

static int webhooks(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    i2v_user u;
    i2v_error e = {0};
    const int s = svc->store->vt->user_get(svc->store, user, &u, &e);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    json_t *ans = json_pack("{s:s}", "secret", u.webhook_secret);
    memset(&u, 0, sizeof u);
    return i2v__respond_json(r, 200, ans);
}

/* POST /webhooks/secret: a new secret; the next attempt of every delivery
 * signs with it (the notifier reads the secret at each attempt). */
static int webhook_secret(i2v_service *svc, i2v_req *r)
{
    char user[37], secret[64];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    if (r->body_len) {
        char msg[256];
        json_t *body = i2v__api_body(r, msg, sizeof msg);
        if (!body) return i2v__native_error(r, I2V_API_PARAM, "%s", msg);
        const char *k = NULL;
        json_t *v;
        json_object_foreach(body, k, v) break;
        ret = k ? i2v__native_error(r, I2V_API_PARAM, "%.64s: unknown field", k) : 0;
        json_decref(body);
        if (k) return ret;
    }
    i2v__new_webhook_secret(secret);
    i2v_error e = {0};
    const int s = svc->store->vt->user_set_secret(svc->store, user, secret, &e);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    i2v__log(I2V_LOG_INFO, "webhook_secret_rotated", " user=%s", user);
    json_t *ans = json_pack("{s:s}", "secret", secret);
    memset(secret, 0, sizeof secret);
    return i2v__respond_json(r, 200, ans);
}

static json_t *delivery_json(const i2v_delivery_info *d)
{
    static const char *const state[] = {"pending", "delivered", "failed"};
    const char *type = d->gen_state == I2V_GEN_SUCCEEDED   ? "generation.succeeded"
                       : d->gen_state == I2V_GEN_CANCELLED ? "generation.cancelled"
                                                           : "generation.failed";
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)d->id, "generation_id", d->generation, "url", d->url, "webhook_id",
                     d->msg_id, "event_type", type, "state",
                     d->state >= 0 && d->state <= 2 ? state[d->state] : "failed", "attempts",
                     d->attempts, "last_status",
                     d->last_status ? json_integer((json_int_t)d->last_status) : json_null(),
                     "last_error", str_or_null(d->last_error), "next_attempt_at",
                     iso(d->state == I2V_HOOK_PENDING ? d->next_ms : 0), "delivered_at",
                     iso(d->delivered_ms), "created_at", iso(d->created_ms));
}

static int hook_row(void *user, const i2v_delivery_info *d)
{
    page *p = user;
    return page_full(p) ? 1 : page_add(p, delivery_json(d), d->id);
}

/* GET /webhooks/deliveries?generation=: newest first, in pages. */
static int deliveries(i2v_service *svc, i2v_req *r)
{
    char user[37], id[ID_MAX + 1];
    int ret, limit;
    int64_t before, gen = 0;
    if (auth(svc, r, user, &ret)) return ret;
    if (page_query(r, 'd', &limit, &before, &ret) != 0) return ret;
    const char *q = i2v__req_query(r, "generation");
    if (q && *q) {
        if (path_id(q, strlen(q), id) != 0)
            return i2v__native_error(r, I2V_API_PARAM,
                                     "generation: a generation's id, task_id or project_id");
        i2v_gen *g = malloc(sizeof *g);
        if (!g) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
        i2v_error e = {0};
        const int s = svc->store->vt->gen_find(svc->store, user, id, g, NULL, &e);
        gen = s ? 0 : g->id;
        free(g);
        if (s == I2V_ENOTFOUND) return not_found(r, "generation", id);
        if (s) return i2v__api_store_error(r, s, i2v__native_error);
    }
    page p = {svc, json_array(), limit, 0, 0, 0};
    i2v_error e = {0};
    return page_answer(
        r, &p, 'd',
        svc->store->vt->delivery_page(svc->store, user, gen, before, limit + 1, hook_row, &p, &e));
}

/* POST /webhooks/deliveries/{id}/redeliver: 202 with the delivery. */
static int redeliver(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    const char *rest = r->path + strlen(I2V_NATIVE_PREFIX "webhooks/deliveries/");
    const char *slash = strchr(rest, '/');
    char *end = NULL;
    const long long id = slash && slash > rest && *rest != '0' ? strtoll(rest, &end, 10) : 0;
    if (!slash || strcmp(slash, "/redeliver") != 0 || end != slash || id <= 0)
        return i2v__native_error(r, I2V_API_NOTFOUND, "%s %.200s: no such endpoint", r->method,
                                 r->path);
    if (auth(svc, r, user, &ret)) return ret;
    i2v_delivery_info *d = malloc(sizeof *d);
    if (!d) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    i2v_error e = {0};
    const int s = svc->store->vt->delivery_redeliver(svc->store, user, id, d, &e);
    if (s == I2V_ENOTFOUND) {
        free(d);
        return i2v__native_error(r, I2V_API_NOTFOUND, "delivery %lld: not found", id);
    }
    if (s) {
        free(d);
        return i2v__api_store_error(r, s, i2v__native_error);
    }
    i2v__log(I2V_LOG_INFO, "webhook_redeliver", " user=%s delivery=%lld webhook_id=%s", user, id,
             d->msg_id);
    ret = i2v__respond_json(r, 202, delivery_json(d));
    free(d);
    return ret;
}

/* ---- live progress: every generation of the caller ---- */

static int user_events(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (auth(svc, r, user, &ret)) return ret;
    return i2v__events_user(svc, r, user);
}

static const i2v_route routes[] = {
    {"GET POST", I2V_NATIVE_PREFIX "generations", gens},
    {"POST", I2V_NATIVE_PREFIX "generations/quote", gen_quote},
    {"GET POST DELETE", I2V_NATIVE_PREFIX "generations/", gen_item},
    {"GET", I2V_NATIVE_PREFIX "account", account},
    {"GET", I2V_NATIVE_PREFIX "ledger", ledger},
    {"GET POST", I2V_NATIVE_PREFIX "keys", keys},
    {"DELETE", I2V_NATIVE_PREFIX "keys/", key_item},
    {"POST", I2V_NATIVE_PREFIX "uploads", i2v__upload_post},
    {"GET", I2V_NATIVE_PREFIX "webhooks", webhooks},
    {"POST", I2V_NATIVE_PREFIX "webhooks/secret", webhook_secret},
    {"GET", I2V_NATIVE_PREFIX "webhooks/deliveries", deliveries},
    {"POST", I2V_NATIVE_PREFIX "webhooks/deliveries/", redeliver},
    {"GET", I2V_NATIVE_PREFIX "events", user_events},
    {"GET POST DELETE", I2V_NATIVE_PREFIX "session", i2v__web_session},
};

const i2v_api_family i2v__native_family = {"native", I2V_NATIVE_PREFIX, i2v__native_error, routes,
                                           (int)(sizeof routes / sizeof routes[0])};
