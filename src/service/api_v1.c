/*
 * api_v1.c - Image to Video API v1 (seed 003): POST
 * /api/v1/imageToVideo/generate and GET /api/v1/imageToVideo/result, key in
 * the APIKEY header, answers {"code","message","data"}.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/error.h"
#include "common/log.h"
#include "price.h"
#include "uploads.h"
#include "i2v/i2v.h"

/* Error kinds to this API's HTTP status and code (seed 003's table). */
static const struct {
    int status, code;
} v1_codes[I2V_API_KINDS] = {
    [I2V_API_PARAM] = {400, 1011},       [I2V_API_AUTH] = {401, 5002},
    [I2V_API_FORBIDDEN] = {403, 5002},   [I2V_API_NOTFOUND] = {404, 1001},
    [I2V_API_METHOD] = {405, 1001},      [I2V_API_TOO_LARGE] = {413, 1011},
    [I2V_API_REVIEW] = {400, 9010},      [I2V_API_CREDITS] = {402, 9051},
    [I2V_API_INTERNAL] = {500, 1003},    [I2V_API_GENERIC] = {400, 1001},
    [I2V_API_IDEMPOTENCY] = {422, 1011}, [I2V_API_UNAVAILABLE] = {503, 1003},
    [I2V_API_CONFLICT] = {409, 1001},
};

int i2v__v1_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:i, s:s, s:n}", "code", v1_codes[kind].code, "message", msg, "data");
    return i2v__respond_json(r, v1_codes[kind].status, j);
}

const char *i2v__v1_status(int state)
{
    /* a cancelled generation reads as Failed (SPEC.md) */
    static const char *const n[] = {"Unprocessed", "Processing", "Success", "Failed", "Failed"};
    return state >= 0 && state <= I2V_GEN_CANCELLED ? n[state] : "Failed";
}

static int v1_created(i2v_service *svc, i2v_req *r, const i2v_gen *g, int64_t balance)
{
    (void)svc;
    (void)balance;
    return i2v__respond_json(r, 200,
                             json_pack("{s:i, s:s, s:I}", "code", 0, "message", "success", "data",
                                       (json_int_t)g->task_id));
}

/* Reads and validates a generate body into g (all but the user). */
int i2v__v1_request(json_t *body, i2v_gen *g, char *msg, size_t ml)
{
    char why[96];
    const char *image_url, *last_url, *resolution, *model, *prompt;
    if (i2v__json_opt_string(body, "imageUrl", &image_url) || !image_url)
        return i2v__api_param(msg, ml, "imageUrl: a URL string is required");
    if (!i2v__url_ok(image_url, why, sizeof why))
        return i2v__api_param(msg, ml, "imageUrl: %s", why);
    const int duration = i2v__api_duration(body);
    if (duration <= 0)
        return i2v__api_param(msg, ml,
                              duration ? "duration: must be the integer 5 or 10"
                                       : "duration: required (5 or 10)");
    i2v_resolution res;
    if (i2v__json_opt_string(body, "resolution", &resolution) || !resolution ||
        i2v__resolution_parse(resolution, &res) != 0)
        return i2v__api_param(msg, ml, "resolution: required, one of 480p, 720p, 1080p");
    int base = 0;
    if (i2v__json_opt_string(body, "modelType", &model) ||
        (model && strcmp(model, "Flash") != 0 && strcmp(model, "Base") != 0))
        return i2v__api_param(msg, ml, "modelType: must be Flash or Base");
    base = model && strcmp(model, "Base") == 0;
    json_t *audio = json_object_get(body, "generateAudio");
    int audio_on = 0, audio_given = 0;
    if (audio && !json_is_null(audio)) {
        if (!json_is_boolean(audio))
            return i2v__api_param(msg, ml, "generateAudio: must be true or false");
        audio_given = 1;
        audio_on = json_is_true(audio);
    }
    if (audio_on && !base)
        return i2v__api_param(
            msg, ml, "generateAudio: only the Base model generates audio (modelType: Base)");
    if (i2v__api_prompt(body, &prompt, msg, ml) != 0) return -1;
    if (i2v__json_opt_string(body, "lastImageUrl", &last_url))
        return i2v__api_param(msg, ml, "lastImageUrl: must be a URL string");
    if (last_url && !i2v__url_ok(last_url, why, sizeof why))
        return i2v__api_param(msg, ml, "lastImageUrl: %s", why);

    g->api = 1;
    snprintf(g->image_url, sizeof g->image_url, "%s", image_url);
    if (last_url) snprintf(g->last_image_url, sizeof g->last_image_url, "%s", last_url);
    if (prompt) {
        g->has_prompt = 1;
        snprintf(g->prompt, sizeof g->prompt, "%s", prompt);
    }
    i2v_move move = I2V_MOVE_AUTO_EFFECTS; /* the planner chooses unless the prompt names a move */
    i2v_prompt_move(prompt, &move);
    snprintf(g->move, sizeof g->move, "%s", i2v_move_name(move));
    g->duration = duration;
    snprintf(g->resolution, sizeof g->resolution, "%s", i2v__resolution_name(res));
    i2v__resolution_size(res, &g->width, &g->height);
    g->fit_portrait = 1;
    g->model = base ? I2V_MODEL_BASE : I2V_MODEL_FLASH;
    g->audio = audio_on;
    g->audio_given = audio_given;
    g->price = i2v__price(base, audio_on, res, g->duration);

    return 0;
}

static int v1_read(const i2v_service *svc, json_t *body, i2v_gen *g, char *msg, size_t ml)
{
    if (i2v__v1_request(body, g, msg, ml) != 0) return -1;
    /* an upload's URL: its owner's, not expired */
    return i2v__upload_check_gen(svc, g, "imageUrl", "imageUrl", 0, "lastImageUrl", msg, ml);
}

int i2v__v1_generate(i2v_service *svc, i2v_req *r)
{
    char user[37], msg[256];
    int ret;
    if (i2v__api_auth(svc, r, "APIKEY", user, i2v__v1_error, "Invalid API Key", &ret)) return ret;
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    if (!body) return i2v__v1_error(r, I2V_API_PARAM, "%s", msg);
    return i2v__api_generate(svc, r, user, body, v1_read, v1_created, i2v__v1_error);
}

/* The request as the client sent it (normalised), with the planner's prompt
 * when the client gave none. */
static json_t *v1_input(const i2v_gen *g)
{
    json_t *in = json_object();
    json_object_set_new(in, "imageUrl", json_string(g->image_url));
    if (g->last_image_url[0])
        json_object_set_new(in, "lastImageUrl", json_string(g->last_image_url));
    json_object_set_new(in, "duration", json_integer(g->duration));
    if (g->resolution[0]) json_object_set_new(in, "resolution", json_string(g->resolution));
    json_object_set_new(in, "modelType",
                        json_string(g->model == I2V_MODEL_BASE ? "Base" : "Flash"));
    if (g->audio_given) json_object_set_new(in, "generateAudio", json_boolean(g->audio));
    if (g->has_prompt)
        json_object_set_new(in, "prompt", json_string(g->prompt));
    else if (g->plan_prompt[0])
        json_object_set_new(in, "prompt", json_string(g->plan_prompt));
    return in;
}

int i2v__v1_result(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    const char *q = i2v__req_query(r, "taskId");
    char *end = NULL;
    errno = 0;
    long long id = q && *q ? strtoll(q, &end, 10) : 0;
    if (!q || !*q || errno || *end || id <= 0) {
        /* the key is checked first, as for every request */
        if (i2v__api_auth(svc, r, "APIKEY", user, i2v__v1_error, "Invalid API Key", &ret))
            return ret;
        if (!q || !*q) return i2v__v1_error(r, I2V_API_PARAM, "taskId: required");
        return i2v__v1_error(r, I2V_API_PARAM, "taskId: must be a task id (a positive integer)");
    }
    i2v_gen *g;
    int wait = 0;
    /* the key and the task in one read of the store */
    int s = i2v__api_auth_get(svc, r, i2v__req_header(r, "APIKEY"), id, NULL, user, &g, &wait,
                              i2v__v1_error, "Invalid API Key", &ret);
    if (s == 2) return 0; /* parked: called again with the answer */
    if (s == 1) return ret;
    if (s == I2V_ENOTFOUND)
        return i2v__v1_error(r, I2V_API_NOTFOUND, "taskId: no task %lld for this API key", id);
    json_t *output = json_null();
    if (g->state == I2V_GEN_SUCCEEDED) {
        char video[1024], cover[1024];
        i2v__output_urls(svc, g, video, cover);
        output = json_pack("{s:s, s:s, s:i, s:i}", "resultUrl", video, "cover", cover, "width",
                           g->out_width, "height", g->out_height);
    }
    json_t *data = json_pack("{s:I, s:s, s:i, s:i, s:o, s:o}", "id", (json_int_t)g->task_id,
                             "status", i2v__v1_status(g->state), "waitNumber", wait, "percentage",
                             g->state >= I2V_GEN_FAILED ? 0 : g->progress, "input", v1_input(g),
                             "output", output);
    /* A task whose output the review refused answers with 9038
     * (PROHIBITED_CONTENT) and its reason, the task beside it. */
    const int refused = g->state == I2V_GEN_FAILED && g->error_code == I2V_ERROR_PROHIBITED;
    ret = i2v__respond_json(r, 200,
                            json_pack("{s:i, s:s, s:o}", "code", refused ? I2V_ERROR_PROHIBITED : 0,
                                      "message", refused ? g->error : "success", "data", data));
    return ret;
}

static const i2v_route v1_routes[] = {
    {"POST", "/api/v1/imageToVideo/generate", i2v__v1_generate},
    {"GET", "/api/v1/imageToVideo/result", i2v__v1_result},
};

const i2v_api_family i2v__v1_family = {"v1", "/api/v1/", i2v__v1_error, v1_routes,
                                       (int)(sizeof v1_routes / sizeof v1_routes[0])};
