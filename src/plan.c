/*
 * plan.c - from a photo and a spec to a camera path: framing (cover crop
 * around the detail), focus, the AUTO_* choice and a description in words.
 */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "photo.h"

#define PREVIEW_SIZE 256
#define CROP_FREE 0.10 /* crops removing less than this share stay centred */

static const char *where(double x, double y)
{
    static const char *const names[3][3] = {
        {"upper left", "top", "upper right"},
        {"left", "centre", "right"},
        {"lower left", "bottom", "lower right"},
    };
    const int col = x < 0.38 ? 0 : x > 0.62 ? 2 : 1;
    const int row = y < 0.38 ? 0 : y > 0.62 ? 2 : 1;
    return names[row][col];
}

void i2v__plan_choose(const i2v_analysis *a, int out_w, int out_h, i2v_move *move, double *focus_x,
                      double *focus_y, double *amount, char *text, size_t text_len)
{
    const int portrait = out_h > out_w;
    const double fx = *focus_x, fy = *focus_y;
    const char *pace = "Slow";
    *amount = 1.0;
    if (!portrait && a->lines_h >= 0.65) {
        /* A landscape of horizontal lines (horizon, bridge deck, shelves):
         * travel along them, towards the richer side. */
        const int right = a->balance_x >= 0;
        *move = right ? I2V_MOVE_PAN_RIGHT : I2V_MOVE_PAN_LEFT;
        snprintf(text, text_len,
                 "%s lateral pan to the %s along the horizontal lines of the scene, easing in "
                 "and out.",
                 pace, right ? "right" : "left");
    } else if (portrait && a->lines_v >= 0.55) {
        /* Tall subjects in a tall frame: tilt towards the richer end. */
        const int up = a->balance_y <= 0;
        *move = up ? I2V_MOVE_PAN_UP : I2V_MOVE_PAN_DOWN;
        snprintf(text, text_len,
                 "%s vertical pan %s along the vertical lines of the scene, easing in and out.",
                 pace, up ? "up" : "down");
    } else if (a->concentration >= 1.6) {
        /* One region clearly richer than the rest: move in on it. */
        *move = I2V_MOVE_ZOOM_IN;
        *amount = a->concentration >= 2.2 ? 1.4 : 1.0;
        snprintf(text, text_len,
                 "%s cinematic zoom in towards the detail at the %s of the frame, easing in "
                 "and out.",
                 pace, where(fx, fy));
    } else {
        /* Detail spread evenly: pull back from the focus to show the whole scene. */
        *move = I2V_MOVE_CAMERA_PUSH_OUT;
        snprintf(text, text_len,
                 "%s camera push out from the %s of the frame, drifting to the centre to "
                 "reveal the whole scene, easing in and out.",
                 pace, where(fx, fy));
    }
}

static void describe(i2v_plan *p, const char *auto_text)
{
    char steer[160];
    i2v__steer_describe(&p->steer, steer, sizeof steer);
    const i2v_cam c0 = i2v__path_at(&p->path, 0, p->frames);
    const i2v_cam c1 = i2v__path_at(&p->path, p->frames - 1, p->frames);
    if (auto_text)
        snprintf(p->description, sizeof p->description, "%s%s", auto_text,
                 p->path.reversed ? " Played in reverse." : "");
    else
        snprintf(p->description, sizeof p->description,
                 "%s, zoom %.2f -> %.2f, centre (%.2f,%.2f) -> (%.2f,%.2f), %s",
                 i2v_move_name(p->move), c0.z, c1.z, c0.cx, c0.cy, c1.cx, c1.cy, steer);
}

int i2v_plan_new(i2v_plan **out, const i2v_photo *photo, const i2v_spec *spec, i2v_error *err)
{
    i2v_rgb preview = {0};
    i2v_plan *p = NULL;
    *out = NULL;
    int rc = i2v_spec_validate(spec, err);
    if (rc) return rc;
    p = calloc(1, sizeof *p);
    if (!p) return i2v__err(err, I2V_ENOMEM, "out of memory");
    p->spec = *spec;
    if (spec->prompt) {
        p->prompt = strdup(spec->prompt);
        if (!p->prompt) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory");
            goto out;
        }
    }
    p->spec.prompt = p->prompt;
    const int pw = photo->width, ph = photo->height;
    if (spec->width == 0) {
        p->width = ph > pw ? 720 : 1280;
        p->height = ph > pw ? 1280 : 720;
    } else {
        p->width = spec->width;
        p->height = spec->height;
    }
    p->frames = (int)lround(spec->duration * spec->fps);
    if (p->frames < 1) p->frames = 1;

    rc = i2v__photo_decode(photo, PREVIEW_SIZE, PREVIEW_SIZE, &preview, err);
    if (rc) goto out;
    rc = i2v__analyze(&preview, &p->analysis, err);
    if (rc) goto out;

    /* Cover crop: the largest rectangle of the output aspect, slid along the
     * cropped axis towards the detail when the crop is large. */
    const double aspect = (double)p->width / p->height;
    if ((double)pw / ph > aspect) {
        p->fh = ph;
        p->fw = ph * aspect;
        const double win = p->fw / pw;
        const double pos =
            (1.0 - win) < CROP_FREE ? 0.5 : i2v__analysis_best_window(&p->analysis, 0, win);
        p->fx = pos * (pw - p->fw);
        p->fy = 0;
    } else {
        p->fw = pw;
        p->fh = pw / aspect;
        const double win = p->fh / ph;
        const double pos =
            (1.0 - win) < CROP_FREE ? 0.5 : i2v__analysis_best_window(&p->analysis, 1, win);
        p->fx = 0;
        p->fy = pos * (ph - p->fh);
    }
    p->focus_x = (p->analysis.focus_x * pw - p->fx) / p->fw;
    p->focus_y = (p->analysis.focus_y * ph - p->fy) / p->fh;
    p->focus_x = fmin(fmax(p->focus_x, 0.0), 1.0);
    p->focus_y = fmin(fmax(p->focus_y, 0.0), 1.0);

    const int is_auto = spec->move == I2V_MOVE_AUTO_EFFECTS || spec->move == I2V_MOVE_AUTO_REVERSE;
    char auto_text[400] = "";
    /* The seed API ignores the prompt of AUTO_* moves: the planner writes its own. */
    i2v__prompt_parse(is_auto ? NULL : p->prompt, &p->steer);
    if (p->steer.has_focus) {
        p->focus_x = p->steer.focus_x;
        p->focus_y = p->steer.focus_y;
    }
    p->move = spec->move;
    if (is_auto) {
        double amount;
        i2v__plan_choose(&p->analysis, p->width, p->height, &p->move, &p->focus_x, &p->focus_y,
                         &amount, auto_text, sizeof auto_text);
        p->steer.speed = 0.9;
        p->steer.amount = amount;
    }
    i2v__path_make(&p->path, p->move, p->focus_x, p->focus_y, &p->steer);
    p->path.reversed = spec->move == I2V_MOVE_AUTO_REVERSE;
    p->max_zoom = fmax(p->path.z0, p->path.z1);
    describe(p, is_auto ? auto_text : NULL);
    *out = p;
    p = NULL;
out:
    i2v__rgb_release(&preview);
    i2v_plan_free(&p);
    return rc;
}

void i2v_plan_free(i2v_plan **plan)
{
    if (!plan || !*plan) return;
    free((*plan)->prompt);
    free(*plan);
    *plan = NULL;
}

int i2v_plan_frames(const i2v_plan *p)
{
    return p->frames;
}

int i2v_plan_width(const i2v_plan *p)
{
    return p->width;
}

int i2v_plan_height(const i2v_plan *p)
{
    return p->height;
}

i2v_move i2v_plan_move(const i2v_plan *p)
{
    return p->move;
}

int i2v_plan_reversed(const i2v_plan *p)
{
    return p->path.reversed;
}

const char *i2v_plan_description(const i2v_plan *p)
{
    return p->description;
}

int i2v_plan_view(const i2v_plan *p, int i, i2v_view *v)
{
    if (i < 0 || i >= p->frames) return I2V_EINVAL;
    *v = i2v__cam_view(i2v__path_at(&p->path, i, p->frames), p->fx, p->fy, p->fw, p->fh);
    return 0;
}
