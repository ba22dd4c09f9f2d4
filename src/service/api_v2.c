/*
 * api_v2.c - Animation API v2 (seed 000): POST /api/animation/v2/generate and
 * POST /api/animation/v2/get, key in the x-api-key header, errors as
 * {"error":{"code","message"}} with a proper HTTP status.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/crypto.h"
#include "common/error.h"
#include "fetch.h"
#include "uploads.h"

#define V2_MAX_IMAGES 20

int i2v__v2_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j =
        json_pack("{s:{s:s, s:s}}", "error", "code", i2v__api_codes[kind].code, "message", msg);
    return i2v__respond_json(r, i2v__api_codes[kind].status, j);
}

const char *i2v__v2_status(int state)
{
    /* a cancelled generation reads as FAILED (SPEC.md) */
    static const char *const n[] = {"STARTING", "IN_PROGRESS", "SUCCEEDED", "FAILED", "FAILED"};
    return state >= 0 && state <= I2V_GEN_CANCELLED ? n[state] : "FAILED";
}

/* Authenticates and checks body.user_id against the key's owner (user, as
 * stored). Returns the parsed body, or NULL after queueing the error response
 * (*ret set). */
#define V2_AUTH_MSG "x-api-key: missing or invalid API key"

/* body.user_id checked against the key's owner: 0, or 1 after answering
 * (*ret set). */
static int v2_user_check(i2v_req *r, json_t *body, const char *user, int *ret)
{
    json_t *uid = json_object_get(body, "user_id");
    const char *u = json_is_string(uid) ? json_string_value(uid) : NULL;
    if (!u || !i2v__uuid_valid(u)) {
        *ret = i2v__v2_error(r, I2V_API_PARAM, "user_id: required, a UUID");
    } else if (strcasecmp(u, user) != 0) {
        *ret = i2v__v2_error(r, I2V_API_FORBIDDEN, "user_id: does not belong to this API key");
    } else {
        return 0;
    }
    return 1;
}

static json_t *v2_begin(i2v_service *svc, i2v_req *r, int *ret, char user[37])
{
    char msg[256];
    if (i2v__api_auth(svc, r, "x-api-key", user, i2v__v2_error, V2_AUTH_MSG, ret)) return NULL;
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    if (!body) {
        *ret = i2v__v2_error(r, I2V_API_PARAM, "%s", msg);
        return NULL;
    }
    if (v2_user_check(r, body, user, ret) == 0) return body;
    json_decref(body);
    return NULL;
}

static int v2_created(i2v_service *svc, i2v_req *r, const i2v_gen *g, int64_t balance)
{
    const int per_video = svc->v2_video_credits > 0 ? svc->v2_video_credits : 1;
    return i2v__respond_json(r, 200,
                             json_pack("{s:s, s:I, s:s}", "generation_id", g->uuid,
                                       "remaining_videos", (json_int_t)(balance / per_video),
                                       "project_id", g->project_id));
}

/* Reads and validates a generate body into g (all but the user);
 * video_credits is the price of 5 s. */
int i2v__v2_request(json_t *body, int video_credits, i2v_gen *g, char *msg, size_t ml)
{
    char why[96];
    json_t *urls = json_object_get(body, "image_urls");
    if (!json_is_array(urls) || json_array_size(urls) == 0)
        return i2v__api_param(msg, ml, "image_urls: required, a non-empty array of URLs");
    if (json_array_size(urls) > V2_MAX_IMAGES)
        return i2v__api_param(msg, ml, "image_urls: at most %d URLs", V2_MAX_IMAGES);
    for (size_t i = 0; i < json_array_size(urls); i++) {
        json_t *u = json_array_get(urls, i);
        if (!json_is_string(u))
            return i2v__api_param(msg, ml, "image_urls[%zu]: must be a URL string", i);
        if (!i2v__url_ok(json_string_value(u), why, sizeof why))
            return i2v__api_param(msg, ml, "image_urls[%zu]: %s", i, why);
    }
    json_t *opt = json_object_get(body, "option");
    i2v_move move;
    /* The seed's nine options only (the 3D moves come through the prompt on
     * API v1 and AUTO_* on rooms). */
    if (!json_is_string(opt) || i2v_move_parse(json_string_value(opt), &move) != 0 ||
        strcmp(json_string_value(opt), i2v_move_name(move)) != 0 || move >= I2V_MOVE_DOLLY_IN)
        return i2v__api_param(msg, ml,
                              "option: required, one of ZOOM_IN, ZOOM_OUT, PAN_RIGHT, PAN_LEFT, "
                              "PAN_UP, PAN_DOWN, CAMERA_PUSH_OUT, AUTO_EFFECTS, AUTO_REVERSE");
    const char *prompt, *format, *hook;
    if (i2v__api_prompt(body, &prompt, msg, ml) != 0) return -1;
    if (i2v__json_opt_string(body, "format", &format) != 0)
        return i2v__api_param(msg, ml, "format: must be a string (\"portrait\" or other)");
    if (i2v__json_opt_string(body, "webhook", &hook) != 0)
        return i2v__api_param(msg, ml, "webhook: must be a URL string");
    if (hook && !i2v__url_ok(hook, why, sizeof why))
        return i2v__api_param(msg, ml, "webhook: %s", why);
    json_t *tour = json_object_get(body, "tour");
    if (tour && !json_is_null(tour) && !json_is_boolean(tour))
        return i2v__api_param(msg, ml, "tour: must be true or false");
    const int is_tour = json_is_true(tour) && json_array_size(urls) > 1;
    if (is_tour && json_array_size(urls) > I2V_PHOTOS_MAX)
        return i2v__api_param(msg, ml, "image_urls: a tour takes at most %d photos",
                              I2V_PHOTOS_MAX);
    int duration = i2v__api_duration(body);
    if (duration < 0) return i2v__api_param(msg, ml, "duration: must be the integer 5 or 10");
    if (duration == 0) duration = 5;

    g->api = 2;
    snprintf(g->image_url, sizeof g->image_url, "%s", json_string_value(json_array_get(urls, 0)));
    if (is_tour) {
        size_t n = 0;
        for (size_t i = 1; i < json_array_size(urls); i++)
            n += (size_t)snprintf(g->more_urls + n, sizeof g->more_urls - n, "%s%s",
                                  i > 1 ? "\n" : "", json_string_value(json_array_get(urls, i)));
    }
    snprintf(g->move, sizeof g->move, "%s", i2v_move_name(move));
    /* The seed: the prompt is only used when the option is not automatic. */
    if (prompt && move != I2V_MOVE_AUTO_EFFECTS && move != I2V_MOVE_AUTO_REVERSE) {
        g->has_prompt = 1;
        snprintf(g->prompt, sizeof g->prompt, "%s", prompt);
    }
    const int portrait = format && strcmp(format, "portrait") == 0;
    g->width = portrait ? 768 : 1280;
    g->height = portrait ? 1280 : 768;
    g->duration = duration;
    g->model = I2V_MODEL_FLASH;
    if (hook) snprintf(g->webhook, sizeof g->webhook, "%s", hook);
    g->price = video_credits * duration / 5;

    return 0;
}

static int v2_read(const i2v_service *svc, json_t *body, i2v_gen *g, char *msg, size_t ml)
{
    if (i2v__v2_request(body, svc->v2_video_credits, g, msg, ml) != 0) return -1;
    /* an upload's URL: its owner's, not expired */
    return i2v__upload_check_gen(svc, g, "image_urls[0]", "image_urls[%d]", 1, "image_urls[0]", msg,
                                 ml);
}

int i2v__v2_generate(i2v_service *svc, i2v_req *r)
{
    int ret = 0;
    char user[37];
    json_t *body = v2_begin(svc, r, &ret, user);
    if (!body) return ret;
    return i2v__api_generate(svc, r, user, body, v2_read, v2_created, i2v__v2_error);
}

int i2v__v2_get(i2v_service *svc, i2v_req *r)
{
    int ret = 0;
    char user[37], msg[256];
    /* A well-formed poll reads the key and the generation in one store
     * call; anything else is answered in the usual order (key, body,
     * user_id, generation_id). */
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    json_t *gid = body ? json_object_get(body, "generation_id") : NULL;
    if (!json_is_string(gid) || !i2v__uuid_valid(json_string_value(gid))) {
        json_decref(body);
        if (!(body = v2_begin(svc, r, &ret, user))) return ret;
        json_decref(body);
        return i2v__v2_error(r, I2V_API_PARAM, "generation_id: required, a UUID");
    }
    char id[37];
    snprintf(id, sizeof id, "%s", json_string_value(gid));
    for (char *p = id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    i2v_gen *g;
    int s = i2v__api_auth_get(svc, r, i2v__req_header(r, "x-api-key"), 0, id, user, &g, NULL,
                              i2v__v2_error, V2_AUTH_MSG, &ret);
    if (s == 2) { /* parked: called again with the answer */
        json_decref(body);
        return 0;
    }
    if (s == 1 || v2_user_check(r, body, user, &ret)) goto out;
    if (s == I2V_ENOTFOUND) {
        ret =
            i2v__v2_error(r, I2V_API_NOTFOUND, "generation_id: no generation %s for this user", id);
        goto out;
    }
    json_t *ans = json_pack("{s:s}", "status", i2v__v2_status(g->state));
    if (g->state == I2V_GEN_SUCCEEDED) {
        char video[1024], cover[1024];
        i2v__output_urls(svc, g, video, cover);
        json_object_set_new(ans, "urls", json_pack("[s]", video));
    }
    /* why the output review refused it (API v1's 9038) */
    if (g->state == I2V_GEN_FAILED && g->error_code == I2V_ERROR_PROHIBITED)
        json_object_set_new(
            ans, "error",
            json_pack("{s:s, s:s}", "code", "prohibited_content", "message", g->error));
    ret = i2v__respond_json(r, 200, ans);
out:
    json_decref(body);
    return ret;
}

static const i2v_route v2_routes[] = {
    {"POST", "/api/animation/v2/generate", i2v__v2_generate},
    {"POST", "/api/animation/v2/get", i2v__v2_get},
};

/* Every path no family owns is answered in this API's shape too (by the
 * Developer Space's family, web.c, which owns them). */
const i2v_api_family i2v__v2_family = {"v2", "/api/animation/v2/", i2v__v2_error, v2_routes,
                                       (int)(sizeof v2_routes / sizeof v2_routes[0])};
