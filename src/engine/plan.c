/*
 * plan.c - from photos and a spec to what every frame shows: per photo the
 * framing (cover crop around the detail), focus and move (the AUTO_* choice),
 * then the joins between photos (aligned travel or dissolve) and a
 * description in words.
 */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "photo.h"

#define PREVIEW_SIZE 256
#define ALIGN_SIZE 640 /* previews of several photos: also aligned */
#define CROP_FREE 0.10 /* crops removing less than this share stay centred */
/* First-last on rooms: the last photo's weight rises from 0 to 1 between
 * these shares of the walk. */
#define FL3D_MIX_A 0.0
#define FL3D_MIX_B 1.0

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

void i2v__plan_choose(const i2v_analysis *a, int out_w, int out_h, double fx, double fy,
                      i2v_move *move, double *amount, int *light, char *text, size_t text_len)
{
    const int portrait = out_h > out_w;
    *amount = 1.0;
    *light = 0;
    if (portrait && a->lines_v >= 0.55) {
        /* Tall subjects in a tall frame: tilt towards the richer end. */
        const int up = a->balance_y <= 0;
        *move = up ? I2V_MOVE_PAN_UP : I2V_MOVE_PAN_DOWN;
        snprintf(text, text_len,
                 "Slow vertical pan %s along the vertical lines of the scene, easing in and out.",
                 up ? "up" : "down");
    } else if (a->interior >= 0.6 && a->sky < 0.4) {
        /* A room: a gentle dolly in, towards the window light when there is
         * one, otherwise towards the richest detail. */
        *move = I2V_MOVE_ZOOM_IN;
        *amount = 0.8;
        if (a->bright_excess > 0.12) {
            *light = 1;
            snprintf(text, text_len,
                     "Slow, gentle dolly in across the room towards the light at the %s of the "
                     "frame, easing in and out.",
                     where(a->bright_x, a->bright_y));
        } else {
            snprintf(text, text_len,
                     "Slow, gentle dolly in across the room towards the detail at the %s of the "
                     "frame, easing in and out.",
                     where(fx, fy));
        }
    } else if (!portrait && a->lines_h >= 0.6 && a->sky >= 0.5) {
        /* Open landscape with a horizon: travel along it, towards the richer side. */
        const int right = a->balance_x >= 0;
        *move = right ? I2V_MOVE_PAN_RIGHT : I2V_MOVE_PAN_LEFT;
        snprintf(text, text_len,
                 "Slow lateral pan to the %s along the horizon (%s of the frame), easing in and "
                 "out.",
                 right ? "right" : "left",
                 a->horizon_y < 0.4   ? "upper third"
                 : a->horizon_y > 0.6 ? "lower third"
                                      : "middle");
    } else if (!portrait && a->lines_h >= 0.65) {
        /* Horizontal lines (bridge deck, shelves): travel along them. */
        const int right = a->balance_x >= 0;
        *move = right ? I2V_MOVE_PAN_RIGHT : I2V_MOVE_PAN_LEFT;
        snprintf(text, text_len,
                 "Slow lateral pan to the %s along the horizontal lines of the scene, easing in "
                 "and out.",
                 right ? "right" : "left");
    } else if (a->concentration >= 1.6) {
        /* One region clearly richer than the rest: move in on it. */
        *move = I2V_MOVE_ZOOM_IN;
        *amount = a->concentration >= 2.2 ? 1.4 : 1.0;
        snprintf(text, text_len,
                 "Slow cinematic zoom in towards the detail at the %s of the frame, easing in "
                 "and out.",
                 where(fx, fy));
    } else if (a->sky >= 0.6) {
        /* An open scene without one subject: pull back to show all of it. */
        *move = I2V_MOVE_CAMERA_PUSH_OUT;
        snprintf(text, text_len,
                 "Slow camera push out from the %s of the frame, revealing the sky and the whole "
                 "landscape, easing in and out.",
                 where(fx, fy));
    } else {
        /* Detail spread evenly: pull back from the focus to show the whole scene. */
        *move = I2V_MOVE_CAMERA_PUSH_OUT;
        snprintf(text, text_len,
                 "Slow camera push out from the %s of the frame, drifting to the centre to "
                 "reveal the whole scene, easing in and out.",
                 where(fx, fy));
    }
}

i2v_cam i2v__shot_cam(const i2v_shot *s, int j)
{
    if (s->nmove <= 0) return (i2v_cam){1.0, 0.5, 0.5};
    if (j < 0) j = 0;
    if (j >= s->nmove) j = s->nmove - 1;
    return i2v__path_at(&s->path, j, s->nmove);
}

static i2v_view shot_view(const i2v_shot *s, i2v_cam c)
{
    return i2v__cam_view(c, s->fx, s->fy, s->fw, s->fh);
}

/* The view zoomed by z about the shot's focus (kept still on screen),
 * staying inside the frame. */
static i2v_view bumped(const i2v_shot *s, i2v_view v, double z)
{
    const double px = s->fx + s->focus_x * s->fw, py = s->fy + s->focus_y * s->fh;
    i2v_view o = {px - (px - v.x) / z, py - (py - v.y) / z, v.w / z, v.h / z};
    o.x = fmin(fmax(o.x, s->fx), s->fx + s->fw - o.w);
    o.y = fmin(fmax(o.y, s->fy), s->fy + s->fh - o.h);
    return o;
}

static double smoothstep(double a, double b, double x)
{
    double t = (x - a) / (b - a);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

i2v_cam3d i2v__shot_cam3d(const i2v_shot *s, int j)
{
    if (j < 0) j = 0;
    if (j >= s->nmove) j = s->nmove - 1;
    return i2v__path3d_at(&s->path3d, j, s->nmove);
}

/* A 3D frame as a view: the bounding box of where its samples land. */
static i2v_view view3d_of(const i2v_scene3d *sc, const i2v_cam3d *c, const i2v_shot *s)
{
    double x0, y0, x1, y1, m;
    i2v__warp_extent(sc, c, &x0, &y0, &x1, &y1, &m);
    x0 = fmax(x0, 0), y0 = fmax(y0, 0), x1 = fmin(x1, s->pw), y1 = fmin(y1, s->ph);
    if (x1 <= x0) x0 = x1 = fmin(fmax(x0, 0), s->pw);
    if (y1 <= y0) y0 = y1 = fmin(fmax(y0, 0), s->ph);
    return (i2v_view){x0, y0, fmax(x1 - x0, 1e-6), fmax(y1 - y0, 1e-6)};
}

static i2v_view view3d(const i2v_shot *s, int j)
{
    const i2v_cam3d c = i2v__shot_cam3d(s, j);
    return view3d_of(&s->scene, &c, s);
}

int i2v__plan_fl3d_frame(const i2v_plan *p, int i, i2v_cam3d c[2], double *mix)
{
    if (!p->fl3d || i <= 0 || i >= p->frames - 1) return 0;
    const double u = (double)i / (p->frames - 1);
    const double e = i2v__ease(p->steer.easing, u);
    c[0] = i2v__fl3d_pose(&p->fl, e, 0);
    c[1] = i2v__fl3d_pose(&p->fl, e, 1);
    *mix = smoothstep(FL3D_MIX_A, FL3D_MIX_B, u);
    return 1;
}

int i2v_plan_layers(const i2v_plan *p, int i, i2v_layer L[2])
{
    if (i < 0 || i >= p->frames) return I2V_EINVAL;
    int k = 0;
    while (k + 1 < p->nshots && p->shot[k + 1].f0 <= i)
        k++;
    const i2v_shot *s = &p->shot[k];
    const int j = i - s->f0;
    if (s->cam3d) {
        L[0] = (i2v_layer){k, view3d(s, j), 1.0};
        return 1;
    }
    if (j < s->nmove || k + 1 >= p->nshots) {
        L[0] = (i2v_layer){k, shot_view(s, i2v__shot_cam(s, j)), 1.0};
        return 1;
    }
    const i2v_shot *b = &p->shot[k + 1];
    i2v_cam3d c3[2];
    double mix3;
    if (i2v__plan_fl3d_frame(p, i, c3, &mix3)) {
        L[0] = (i2v_layer){0, view3d_of(&p->shot[0].scene, &c3[0], s), 1 - mix3};
        L[1] = (i2v_layer){1, view3d_of(&p->shot[1].scene, &c3[1], b), mix3};
        return 2;
    }
    const int t = j - s->nmove, nt = s->ntrans;
    const double u =
        s->ends_inclusive ? (nt > 1 ? (double)t / (nt - 1) : 1.0) : (t + 1.0) / (nt + 1.0);
    const i2v_view va = shot_view(s, i2v__shot_cam(s, s->nmove - 1));
    const i2v_view vb = shot_view(b, i2v__shot_cam(b, 0));
    i2v_view A, B;
    if (s->join.kind == I2V_TRANSITION_TRAVEL) {
        /* The camera moves in the first photo's pixels from its view to
         * where the second photo's view lies, and the second photo is seen
         * through the similarity: both show the same part of the scene. */
        const double e = i2v__ease(p->steer.easing, u); /* cosine unless constant speed */
        const double sc = s->join.scale, tx = s->join.shift_x, ty = s->join.shift_y;
        const i2v_view vt = {(vb.x - tx) / sc, (vb.y - ty) / sc, vb.w / sc, vb.h / sc};
        const double w = va.w * pow(vt.w / va.w, e), h = w * va.h / va.w;
        const double cx = va.x + va.w / 2 + e * (vt.x + vt.w / 2 - va.x - va.w / 2);
        const double cy = va.y + va.h / 2 + e * (vt.y + vt.h / 2 - va.y - va.h / 2);
        A = (i2v_view){cx - w / 2, cy - h / 2, w, h};
        B = (i2v_view){sc * A.x + tx, sc * A.y + ty, sc * w, sc * h};
    } else {
        const double z = 1 + s->bump * sin(M_PI * u);
        A = bumped(s, va, z);
        B = bumped(b, vb, z);
    }
    const double w = s->ends_inclusive ? smoothstep(0.2, 0.8, u) : smoothstep(0, 1, u);
    L[0] = (i2v_layer){k, A, 1 - w};
    L[1] = (i2v_layer){k + 1, B, w};
    return 2;
}

int i2v_plan_view(const i2v_plan *p, int i, i2v_view *v)
{
    i2v_layer L[2];
    const int n = i2v_plan_layers(p, i, L);
    if (n < 0) return n;
    *v = (n == 2 && L[1].weight > L[0].weight) ? L[1].view : L[0].view;
    return 0;
}

/* A point of the photo (0..1 of its size) in frame units, kept in the frame. */
static void to_frame(const i2v_shot *s, double px, double py, double *fx, double *fy)
{
    *fx = fmin(fmax((px * s->pw - s->fx) / s->fw, 0.0), 1.0);
    *fy = fmin(fmax((py * s->ph - s->fy) / s->fh, 0.0), 1.0);
}

static void focus_on_light(i2v_shot *s)
{
    to_frame(s, s->analysis.bright_x, s->analysis.bright_y, &s->focus_x, &s->focus_y);
}

/* Cover crop: the largest rectangle of the output aspect, slid along the
 * cropped axis towards the detail when the crop is large. */
static void frame_shot(i2v_shot *s, double aspect)
{
    const int pw = s->pw, ph = s->ph;
    if ((double)pw / ph > aspect) {
        s->fh = ph;
        s->fw = ph * aspect;
        const double win = s->fw / pw;
        const double pos =
            (1.0 - win) < CROP_FREE ? 0.5 : i2v__analysis_best_window(&s->analysis, 0, win);
        s->fx = pos * (pw - s->fw);
        s->fy = 0;
    } else {
        s->fw = pw;
        s->fh = pw / aspect;
        const double win = s->fh / ph;
        const double pos =
            (1.0 - win) < CROP_FREE ? 0.5 : i2v__analysis_best_window(&s->analysis, 1, win);
        s->fx = 0;
        s->fy = pos * (ph - s->fh);
    }
    to_frame(s, s->analysis.focus_x, s->analysis.focus_y, &s->focus_x, &s->focus_y);
}

static int is_move3d(i2v_move m)
{
    return m >= I2V_MOVE_DOLLY_IN && m <= I2V_MOVE_ORBIT;
}

/* The 2D move a 3D one falls back to. */
static i2v_move move2d(i2v_move m)
{
    switch (m) {
    case I2V_MOVE_DOLLY_IN:
        return I2V_MOVE_ZOOM_IN;
    case I2V_MOVE_DOLLY_OUT:
        return I2V_MOVE_ZOOM_OUT;
    case I2V_MOVE_TRUCK_LEFT:
        return I2V_MOVE_PAN_LEFT;
    case I2V_MOVE_TRUCK_RIGHT:
    case I2V_MOVE_ORBIT:
        return I2V_MOVE_PAN_RIGHT;
    default:
        return m;
    }
}

#define DOLLY_M 0.5       /* DOLLY_*: metres walked at speed and amount 1 */
#define DOLLY_MAG_MAX 1.4 /* DOLLY_IN: the wall ahead grows at most this much */
#define TRUCK_M 0.6       /* TRUCK_*: metres from end to end */
#define TRUCK_ZOOM 1.15   /* the virtual lens of a truck: the photo's edges stay out of view */
#define ORBIT_DEG 12.0
#define ORBIT_ZOOM 1.12

/* Whether every frame of the path keeps to what the photo saw. */
static int path3d_inside(const i2v_shot *s, const i2v_path3d *path)
{
    /* A dolly starts on the photo's own frame: its sample centres may reach
     * the photo's edge (as the 2D moves do at zoom 1), never beyond. Moves
     * through a zoomed lens keep the filter's reach off the edge too. */
    const double margin =
        path->kind == I2V_PATH3D_DOLLY ? -1e-9 : 3 + 0.004 * (s->pw > s->ph ? s->pw : s->ph);
    for (int i = 0; i <= 8; i++) {
        const i2v_cam3d c = i2v__path3d_at_time(path, i / 8.0);
        if (!i2v__warp_inside(&s->scene, &c, margin)) return 0;
    }
    return 1;
}

/* Plans a 3D move on the shot's room; 0 on success, or -1 with the reason
 * in why. */
static int plan3d(const i2v_plan *p, i2v_shot *s, i2v_move want, const i2v_steer *st, char *why,
                  size_t why_len)
{
    const i2v_room *r = &s->room;
    if (!r->is_room) {
        snprintf(why, why_len, "not taken for a room (confidence %.2f): %s", r->confidence,
                 r->reason);
        return -1;
    }
    i2v__scene3d_init(&s->scene, r, s->pw, s->ph, s->fx, s->fy, s->fw, s->fh, p->width, p->height);
    const double *R = r->rotation;
    const double down[3] = {R[1], R[4], R[7]};
    /* The heading: the optical axis laid flat on the floor; the camera's right, flat. */
    double fwd[3] = {-down[0] * down[2], -down[1] * down[2], 1 - down[2] * down[2]};
    const double nf = sqrt(fwd[0] * fwd[0] + fwd[1] * fwd[1] + fwd[2] * fwd[2]);
    if (!(nf > 1e-6)) {
        snprintf(why, why_len, "the camera looks straight up or down");
        return -1;
    }
    for (int i = 0; i < 3; i++)
        fwd[i] /= nf;
    const double right[3] = {down[1] * fwd[2] - down[2] * fwd[1],
                             down[2] * fwd[0] - down[0] * fwd[2],
                             down[0] * fwd[1] - down[1] * fwd[0]};
    const double k = st->speed * st->amount;
    i2v_path3d *q = &s->path3d;
    memset(q, 0, sizeof *q);
    memcpy(q->down, down, sizeof q->down);
    q->easing = st->easing == I2V_EASE_LINEAR ? I2V_EASE_LINEAR : I2V_EASE_IN_OUT;
    q->zoom = 1;
    double least;
    switch (want) {
    case I2V_MOVE_TRUCK_LEFT:
    case I2V_MOVE_TRUCK_RIGHT:
        q->kind = I2V_PATH3D_TRUCK;
        for (int i = 0; i < 3; i++)
            q->dir[i] = want == I2V_MOVE_TRUCK_RIGHT ? right[i] : -right[i];
        q->amount = TRUCK_M * k;
        q->zoom = TRUCK_ZOOM;
        least = 0.05;
        break;
    case I2V_MOVE_ORBIT: {
        q->kind = I2V_PATH3D_ORBIT;
        /* Circle a point ahead, 70% of the way to the back wall (at most 3 m),
         * at eye height. */
        const i2v_room_face *b = &r->face[I2V_FACE_BACK];
        const double nb = b->normal[0] * fwd[0] + b->normal[1] * fwd[1] + b->normal[2] * fwd[2];
        double dist = nb > 0.2 ? b->distance / nb : 3.0;
        dist = fmin(0.7 * dist, 3.0);
        for (int i = 0; i < 3; i++)
            q->pivot[i] = dist * fwd[i];
        q->amount = ORBIT_DEG * M_PI / 180 * k;
        q->zoom = ORBIT_ZOOM;
        least = 1.0 * M_PI / 180;
        break;
    }
    case I2V_MOVE_DOLLY_IN:
    case I2V_MOVE_DOLLY_OUT:
    default:
        q->kind = I2V_PATH3D_DOLLY;
        memcpy(q->dir, fwd, sizeof q->dir);
        q->amount = DOLLY_M * k;
        if (want == I2V_MOVE_DOLLY_IN) {
            /* No walk that blows the wall ahead up more than DOLLY_MAG_MAX times: a
             * back wall that near is more often something the layout took for it
             * (a counter, a cupboard) than a wall. */
            const i2v_room_face *b = &r->face[I2V_FACE_BACK];
            const double nb = b->normal[0] * fwd[0] + b->normal[1] * fwd[1] + b->normal[2] * fwd[2];
            if (b->visible && nb > 0.2)
                q->amount = fmin(q->amount, b->distance / nb * (1 - 1 / DOLLY_MAG_MAX));
        }
        least = 0.05;
        break;
    }
    /* Shrink the move until no frame shows what the photo never saw. */
    if (!path3d_inside(s, q)) {
        double lo = 0, hi = q->amount;
        for (int it = 0; it < 24; it++) {
            q->amount = 0.5 * (lo + hi);
            if (path3d_inside(s, q))
                lo = q->amount;
            else
                hi = q->amount;
        }
        q->amount = lo;
        if (q->amount < least) {
            snprintf(why, why_len, "no room to move: any %s would show what the photo never saw",
                     i2v_move_name(want));
            return -1;
        }
    }
    return 0;
}

/* Chooses and builds the shot's own move. */
static void move_shot(i2v_plan *p, i2v_shot *s, i2v_move move)
{
    i2v_steer st = p->steer;
    if (st.focus_light) {
        focus_on_light(s);
    } else if (st.has_focus) {
        s->focus_x = st.focus_x;
        s->focus_y = st.focus_y;
    }
    s->move = move;
    s->text[0] = '\0';
    s->cam3d = 0;
    const int autom = move == I2V_MOVE_AUTO_EFFECTS || move == I2V_MOVE_AUTO_REVERSE;
    if (s->room_known && st.flat) {
        if (is_move3d(move))
            snprintf(p->camera_note, sizeof p->camera_note,
                     "camera=2d move=%s reason=\"the prompt asks for a 2D camera\"",
                     i2v_move_name(move2d(move)));
    } else if (s->room_known && (is_move3d(move) || autom || move == I2V_MOVE_CAMERA_PUSH_OUT)) {
        /* AUTO_* walks into a room; a push-out walks back out of it. */
        const i2v_move want = is_move3d(move)                    ? move
                              : move == I2V_MOVE_CAMERA_PUSH_OUT ? I2V_MOVE_DOLLY_OUT
                                                                 : I2V_MOVE_DOLLY_IN;
        i2v_steer s3 = st;
        if (autom) s3.speed *= 0.9;
        char why[256];
        if (plan3d(p, s, want, &s3, why, sizeof why) == 0) {
            s->cam3d = 1;
            s->move = want;
            s->path.reversed = move == I2V_MOVE_AUTO_REVERSE;
            s->path3d.reversed = (want == I2V_MOVE_DOLLY_OUT) ^ s->path.reversed;
            const i2v_path3d *q = &s->path3d;
            const char *speed = s3.speed < 1 ? "Slow" : s3.speed > 1 ? "Quick" : "Steady";
            const char *ease =
                q->easing == I2V_EASE_LINEAR ? "at constant speed" : "easing in and out";
            switch (want) {
            case I2V_MOVE_DOLLY_IN:
                snprintf(s->text, sizeof s->text,
                         "%s walk into the room at eye height, %.2f m forward, %s (3D camera).",
                         speed, q->amount, ease);
                break;
            case I2V_MOVE_DOLLY_OUT:
                snprintf(s->text, sizeof s->text,
                         "%s walk back out of the room at eye height, %.2f m, %s (3D camera).",
                         speed, q->amount, ease);
                break;
            case I2V_MOVE_TRUCK_LEFT:
            case I2V_MOVE_TRUCK_RIGHT:
                snprintf(s->text, sizeof s->text,
                         "%s sideways step to the %s through the room, %.2f m, %s (3D camera).",
                         speed, want == I2V_MOVE_TRUCK_RIGHT ? "right" : "left", q->amount, ease);
                break;
            default:
                snprintf(s->text, sizeof s->text,
                         "%s gentle orbit of %.1f degrees around a point %.1f m into the room, %s "
                         "(3D camera).",
                         speed, q->amount * 180 / M_PI,
                         sqrt(q->pivot[0] * q->pivot[0] + q->pivot[1] * q->pivot[1] +
                              q->pivot[2] * q->pivot[2]),
                         ease);
                break;
            }
            if (move == I2V_MOVE_AUTO_REVERSE) {
                const size_t n = strlen(s->text);
                snprintf(s->text + n, sizeof s->text - n, " Played in reverse.");
            }
            snprintf(p->camera_note, sizeof p->camera_note,
                     "camera=3d move=%s room=%.2f focal_px=%.1f amount=%.3f%s zoom=%.3f",
                     i2v_move_name(want), s->room.confidence, s->room.focal,
                     q->kind == I2V_PATH3D_ORBIT ? q->amount * 180 / M_PI : q->amount,
                     q->kind == I2V_PATH3D_ORBIT ? "deg" : "m", q->zoom);
            return;
        }
        if (is_move3d(move))
            snprintf(p->camera_note, sizeof p->camera_note, "camera=2d move=%s reason=\"%s\"",
                     i2v_move_name(move2d(move)), why);
    } else if (is_move3d(move)) {
        snprintf(p->camera_note, sizeof p->camera_note,
                 "camera=2d move=%s reason=\"3D moves are made for one photo at a time\"",
                 i2v_move_name(move2d(move)));
    }
    if (is_move3d(move)) move = s->move = move2d(move);
    if (autom) {
        double amount;
        int light;
        i2v__plan_choose(&s->analysis, p->width, p->height, s->focus_x, s->focus_y, &s->move,
                         &amount, &light, s->text, sizeof s->text);
        if (light && !st.has_focus && !st.focus_light) focus_on_light(s);
        st.speed *= 0.9;
        st.amount *= amount;
        if (move == I2V_MOVE_AUTO_REVERSE) {
            const size_t n = strlen(s->text);
            snprintf(s->text + n, sizeof s->text - n, " Played in reverse.");
        }
    }
    i2v__path_make(&s->path, s->move, s->focus_x, s->focus_y, &st);
    s->path.reversed = move == I2V_MOVE_AUTO_REVERSE;
}

/* Aligns shot a with shot b and decides how they are joined. */
static int join_shots(i2v_shot *a, const i2v_shot *b, const i2v_grey *ga, const i2v_grey *gb,
                      double ka_x, double ka_y, double kb_x, double kb_y, double (*pts)[4],
                      int *npts, i2v_error *err)
{
    i2v_align al;
    int rc = i2v__align(ga, gb, &al, err);
    if (rc) return rc;
    /* The matches in photo pixels (grey pixel centres). */
    if (pts) {
        for (int i = 0; i < al.kept; i++) {
            pts[i][0] = (al.match[i][0] + 0.5) * ka_x, pts[i][1] = (al.match[i][1] + 0.5) * ka_y;
            pts[i][2] = (al.match[i][2] + 0.5) * kb_x, pts[i][3] = (al.match[i][3] + 0.5) * kb_y;
        }
        *npts = al.kept;
    }
    i2v_transition_info *j = &a->join;
    memset(j, 0, sizeof *j);
    j->matches = al.matches;
    j->inliers = al.inliers;
    j->rms = al.rms;
    /* To photo pixels: H' = Sb * H * Sa^-1. */
    const double *H = al.H;
    double Hp[9] = {H[0] * kb_x / ka_x, H[1] * kb_x / ka_y, H[2] * kb_x,
                    H[3] * kb_y / ka_x, H[4] * kb_y / ka_y, H[5] * kb_y,
                    H[6] / ka_x,        H[7] / ka_y,        H[8]};
    memcpy(j->homography, Hp, sizeof Hp);
    j->kind = I2V_TRANSITION_DISSOLVE;
    j->scale = 1;
    if (!al.found) return 0;
    double sc, tx, ty;
    i2v__homography_similarity(Hp, a->fx, a->fy, a->fw, a->fh, &sc, &tx, &ty);
    if (!(sc > 0.25 && sc < 4)) return 0;
    j->scale = sc;
    j->shift_x = tx;
    j->shift_y = ty;
    /* Where the first view's centre lands in the second photo, against the
     * second view's centre: the distance the camera would travel. */
    const double cx = a->fx + a->fw / 2, cy = a->fy + a->fh / 2;
    const double mx = sc * cx + tx, my = sc * cy + ty;
    const double dist = hypot(mx - (b->fx + b->fw / 2), my - (b->fy + b->fh / 2)) / b->fw;
    const double zoom = fabs(log(sc * a->fw / b->fw));
    j->kind = dist < 0.02 && zoom < 0.03 ? I2V_TRANSITION_SAME_VIEW : I2V_TRANSITION_TRAVEL;
    return 0;
}

/* First-last: whether the two photos are two viewpoints of one room (then
 * the join walks the 3D camera), and the camera note saying which. */
static int first_last_rooms(i2v_plan *p, const i2v_photo *const *photos, const double (*pts)[4],
                            int npts, i2v_error *err)
{
    i2v_shot *a = &p->shot[0], *b = &p->shot[1];
    if (p->steer.flat) {
        snprintf(p->camera_note, sizeof p->camera_note,
                 "camera=2d move=FIRST_LAST reason=\"the prompt asks for a 2D camera\"");
        return 0;
    }
    int rc = i2v_photo_room(photos[0], &a->room, err);
    if (rc) return rc;
    memset(&b->room, 0, sizeof b->room);
    if (a->room.is_room) {
        rc = i2v_photo_room(photos[1], &b->room, err);
        if (rc) return rc;
    }
    char why[256];
    if (i2v__fl3d_relate(&a->room, &b->room, pts, npts, &p->fl, why, sizeof why) != 0) {
        snprintf(p->camera_note, sizeof p->camera_note, "camera=2d move=FIRST_LAST reason=\"%s\"",
                 why);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        i2v_shot *s = &p->shot[i];
        i2v__scene3d_init(&s->scene, &s->room, s->pw, s->ph, s->fx, s->fy, s->fw, s->fh, p->width,
                          p->height);
        i2v__scene3d_intrinsics(&s->scene, 1.0, &p->fl.fo[i], &p->fl.cox[i], &p->fl.coy[i]);
    }
    p->fl3d = 1;
    const i2v_fl3d *f = &p->fl;
    snprintf(p->camera_note, sizeof p->camera_note,
             "camera=3d move=FIRST_LAST room=%.2f,%.2f walk_m=%.3f offset_m=%.3f,%.3f,%.3f "
             "turn_deg=%.2f walk_walls_m=%.3f walk_points_m=%.3f walk_floor_m=%.3f/%d matches=%d "
             "inliers=%d rms_px=%.2f "
             "wall_err_m=%.3f",
             a->room.confidence, b->room.confidence, hypot(f->T[0], f->T[2]), f->C2[0], f->C2[1],
             f->C2[2], f->dyaw, f->walk_walls, f->walk_points, f->walk_floor, f->floor_points,
             f->matches, f->inliers, f->rms_px, f->wall_err);
    return 0;
}

const char *i2v_transition_name(i2v_transition kind)
{
    static const char *const names[] = {"none", "same-viewpoint", "travel"};
    return (unsigned)kind < 3 ? names[kind] : "none";
}

static const char *join_words(const i2v_transition_info *j)
{
    switch (j->kind) {
    case I2V_TRANSITION_TRAVEL:
        return "aligned, different viewpoints: the camera travels from one view to the other "
               "while the photos dissolve";
    case I2V_TRANSITION_SAME_VIEW:
        return "aligned, same viewpoint: a timed dissolve in place";
    default:
        return "no alignment found: a plain dissolve";
    }
}

static void describe(i2v_plan *p)
{
    char steer[160], look[120];
    i2v__steer_describe(&p->steer, steer, sizeof steer);
    i2v__look_describe(&p->look, look, sizeof look);
    const i2v_move m0 = p->shot[0].move;
    snprintf(p->understood, sizeof p->understood, "move=%s %s look=%s sound=%s",
             p->kind == I2V_JOIN_FIRST_LAST ? "FIRST_LAST"
             : p->nshots > 1                ? "TOUR"
                                            : i2v_move_name(m0),
             steer, look, p->spec.audio ? i2v__sound_name(p->sound) : "none");
    size_t n = 0;
    char *d = p->description;
    const size_t cap = sizeof p->description;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap) n += (size_t)snprintf(d + n, cap - n, __VA_ARGS__);                           \
    } while (0)
    if (p->kind == I2V_JOIN_FIRST_LAST && p->fl3d) {
        const i2v_fl3d *f = &p->fl;
        ADD("First-last frame over %.1f s: two viewpoints of one room, the 3D camera walks "
            "%.2f m from the first photo's viewpoint to the last's",
            p->spec.duration, hypot(f->T[0], f->T[2]));
        if (fabs(f->dyaw) >= 0.5)
            ADD(", turning %.0f degrees %s", fabs(f->dyaw), f->dyaw > 0 ? "right" : "left");
        ADD(", %s, while the photos dissolve (3D camera; %d of %d matching points agree).",
            p->steer.easing == I2V_EASE_LINEAR ? "at constant speed" : "easing in and out",
            f->inliers, f->matches);
    } else if (p->kind == I2V_JOIN_FIRST_LAST) {
        const i2v_transition_info *j = &p->shot[0].join;
        ADD("First-last frame over %.1f s, %s (%d matches, %d consistent", p->spec.duration,
            join_words(j), j->matches, j->inliers);
        if (j->kind != I2V_TRANSITION_DISSOLVE)
            ADD(", scale %.3f, shift %+.1f,%+.1f px", j->scale, j->shift_x, j->shift_y);
        ADD(")%s.", j->kind == I2V_TRANSITION_TRAVEL ? "" : ", under a gentle push in and settle");
    } else {
        for (int k = 0; k < p->nshots; k++) {
            const i2v_shot *s = &p->shot[k];
            const i2v_cam c0 = i2v__shot_cam(s, 0), c1 = i2v__shot_cam(s, s->nmove - 1);
            if (p->nshots > 1) ADD("%sPhoto %d: ", k ? " " : "", k + 1);
            if (s->text[0])
                ADD("%s", s->text);
            else
                ADD("%s, zoom %.2f -> %.2f, centre (%.2f,%.2f) -> (%.2f,%.2f), %s.",
                    i2v_move_name(s->move), c0.z, c1.z, c0.cx, c0.cy, c1.cx, c1.cy, steer);
            if (k + 1 < p->nshots)
                ADD(" Then %s (%d matches, %d consistent).", join_words(&s->join), s->join.matches,
                    s->join.inliers);
        }
    }
    if (strncmp(p->camera_note, "camera=2d", 9) == 0) {
        const char *r = strstr(p->camera_note, "reason=\"");
        ADD(" 3D camera not used: %.*s.", r ? (int)strlen(r + 8) - 1 : 0, r ? r + 8 : "");
    }
    if (i2v__look_any(&p->look)) ADD(" Look: %s.", look);
    if (p->spec.audio) ADD(" Sound: %s.", i2v__sound_name(p->sound));
#undef ADD
}

int i2v_plan_new(i2v_plan **out, const i2v_photo *photo, const i2v_spec *spec, i2v_error *err)
{
    const i2v_photo *const photos[1] = {photo};
    return i2v_plan_new_multi(out, photos, 1, I2V_JOIN_TOUR, spec, err);
}

int i2v_plan_new_multi(i2v_plan **out, const i2v_photo *const *photos, int n, i2v_join join,
                       const i2v_spec *spec, i2v_error *err)
{
    i2v_rgb preview = {0};
    i2v_grey *grey = NULL;
    double(*pts)[4] = NULL;
    int npts = 0;
    double(*k)[2] = NULL;
    i2v_plan *p = NULL;
    *out = NULL;
    int rc = i2v_spec_validate(spec, err);
    if (rc) return rc;
    if (n < 1 || n > I2V_PHOTOS_MAX)
        return i2v__err(err, I2V_EINVAL, "photos: give 1 to %d photos, not %d", I2V_PHOTOS_MAX, n);
    if (join == I2V_JOIN_FIRST_LAST && n != 2)
        return i2v__err(err, I2V_EINVAL, "photos: first-last frame mode takes exactly 2 photos");
    if (join != I2V_JOIN_TOUR && join != I2V_JOIN_FIRST_LAST)
        return i2v__err(err, I2V_EINVAL, "join: unknown value %d", (int)join);
    p = calloc(1, sizeof *p);
    if (p) p->shot = calloc((size_t)n, sizeof *p->shot);
    grey = calloc((size_t)n, sizeof *grey);
    k = calloc((size_t)n, sizeof *k);
    if (!p || !p->shot || !grey || !k) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    p->spec = *spec;
    p->nshots = n;
    p->kind = join;
    if (spec->prompt) {
        p->prompt = strdup(spec->prompt);
        if (!p->prompt) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory");
            goto out;
        }
    }
    p->spec.prompt = p->prompt;
    if (spec->width == 0) {
        const int portrait = photos[0]->height > photos[0]->width;
        p->width = portrait ? 720 : 1280;
        p->height = portrait ? 1280 : 720;
    } else {
        p->width = spec->width;
        p->height = spec->height;
    }
    p->frames = (int)lround(spec->duration * spec->fps);
    if (p->frames < 1) p->frames = 1;
    if (p->frames < 2 * n) {
        rc = i2v__err(err, I2V_EINVAL, "duration: %.2f s is too short for %d photos",
                      spec->duration, n);
        goto out;
    }
    i2v__prompt_parse(p->prompt, &p->steer);
    i2v__look_parse(p->prompt, &p->look);
    /* In first-last mode the photos carry the change themselves ("day to
     * night" between a day and a night photo); the last frame stays the last
     * photo. */
    if (join == I2V_JOIN_FIRST_LAST) p->look.day_to_night = 0;
    p->sound = i2v__sound_from_prompt(p->prompt);

    const double aspect = (double)p->width / p->height;
    for (int i = 0; i < n; i++) {
        i2v_shot *s = &p->shot[i];
        s->pw = photos[i]->width;
        s->ph = photos[i]->height;
        const int size = n > 1 ? ALIGN_SIZE : PREVIEW_SIZE;
        rc = i2v__photo_decode(photos[i], size, size, &preview, err);
        if (!rc) rc = i2v__analyze(&preview, &s->analysis, err);
        if (!rc && n > 1) {
            rc = i2v__grey_from_rgb(&preview, ALIGN_SIZE, &grey[i], err);
            k[i][0] = (double)grey[i].step * s->pw / preview.width;
            k[i][1] = (double)grey[i].step * s->ph / preview.height;
        }
        i2v__rgb_release(&preview);
        if (rc) goto out;
        frame_shot(s, aspect);
        /* A single photo that may get the 3D camera: look for its room. */
        const i2v_move m = spec->move;
        if (n == 1 && join == I2V_JOIN_TOUR &&
            (is_move3d(m) || m == I2V_MOVE_AUTO_EFFECTS || m == I2V_MOVE_AUTO_REVERSE ||
             m == I2V_MOVE_CAMERA_PUSH_OUT)) {
            rc = i2v_photo_room(photos[i], &s->room, err);
            if (rc) goto out;
            s->room_known = 1;
        }
    }

    /* Frames: first-last is one long join; a tour gives every photo an
     * equal share, the join to the next photo at the end of each share. */
    if (join == I2V_JOIN_FIRST_LAST) {
        for (int i = 0; i < n; i++)
            move_shot(p, &p->shot[i], spec->move); /* focus and words only */
        p->shot[0].f0 = 0;
        p->shot[0].nmove = 0;
        p->shot[0].ntrans = p->frames;
        p->shot[0].ends_inclusive = 1;
        p->shot[0].bump = 0.08 * p->steer.amount;
        p->shot[1].f0 = p->frames;
    } else {
        const int T = n > 1 ? (int)lround(spec->fps * fmin(1.0, 0.3 * spec->duration / n)) : 0;
        for (int i = 0; i < n; i++) {
            i2v_shot *s = &p->shot[i];
            s->f0 = (int)((long)i * p->frames / n);
            const int end = (int)((long)(i + 1) * p->frames / n);
            s->ntrans = i + 1 < n ? T : 0;
            s->nmove = end - s->f0 - s->ntrans;
            if (s->nmove < 1) {
                s->ntrans += s->nmove - 1;
                s->nmove = 1;
            }
            move_shot(p, s, spec->move);
        }
    }
    if (join == I2V_JOIN_FIRST_LAST) {
        pts = malloc(sizeof *pts * I2V_ALIGN_KEEP);
        if (!pts) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (int i = 0; i + 1 < n; i++) {
        rc = join_shots(&p->shot[i], &p->shot[i + 1], &grey[i], &grey[i + 1], k[i][0], k[i][1],
                        k[i + 1][0], k[i + 1][1], pts, &npts, err);
        if (rc) goto out;
    }
    if (join == I2V_JOIN_FIRST_LAST) {
        rc = first_last_rooms(p, photos, pts, npts, err);
        if (rc) goto out;
    }
    describe(p);
    *out = p;
    p = NULL;
out:
    i2v__rgb_release(&preview);
    if (grey)
        for (int i = 0; i < n; i++)
            i2v__grey_release(&grey[i]);
    free(grey);
    free(k);
    free(pts);
    i2v_plan_free(&p);
    return rc;
}

void i2v_plan_free(i2v_plan **plan)
{
    if (!plan || !*plan) return;
    free((*plan)->prompt);
    free((*plan)->shot);
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

int i2v_plan_photos(const i2v_plan *p)
{
    return p->nshots;
}

i2v_move i2v_plan_move(const i2v_plan *p)
{
    return p->shot[0].move;
}

int i2v_plan_reversed(const i2v_plan *p)
{
    return p->shot[0].path.reversed;
}

const char *i2v_plan_description(const i2v_plan *p)
{
    return p->description;
}

const char *i2v_plan_understood(const i2v_plan *p)
{
    return p->understood;
}

int i2v_plan_transition(const i2v_plan *p, int k, i2v_transition_info *info)
{
    if (k < 0 || k + 1 >= p->nshots) return I2V_EINVAL;
    *info = p->shot[k].join;
    return 0;
}

const char *i2v_plan_camera_note(const i2v_plan *p)
{
    return p->camera_note;
}

int i2v_plan_pose(const i2v_plan *p, int i, i2v_pose *pose)
{
    if (i < 0 || i >= p->frames) return I2V_EINVAL;
    int k = 0;
    while (k + 1 < p->nshots && p->shot[k + 1].f0 <= i)
        k++;
    const i2v_shot *s = &p->shot[k];
    if (p->fl3d) {
        /* The walk, in the first photo's camera coordinates. */
        const double u = p->frames > 1 ? (double)i / (p->frames - 1) : 0;
        const i2v_cam3d c = i2v__fl3d_pose(&p->fl, i2v__ease(p->steer.easing, u), 0);
        memcpy(pose->position, c.C, sizeof pose->position);
        const double *a = &c.Rf[6];
        pose->yaw = atan2(a[0], a[2]) * 180 / M_PI;
        pose->pitch = asin(fmax(-1, fmin(1, -a[1]))) * 180 / M_PI;
        pose->focal = c.fo;
        return 0;
    }
    if (!s->cam3d) return I2V_ENOTFOUND;
    const i2v_cam3d c = i2v__shot_cam3d(s, i - s->f0);
    memcpy(pose->position, c.C, sizeof pose->position);
    /* The frame's optical axis in photo camera coordinates: third row of Rf. */
    const double *a = &c.Rf[6];
    pose->yaw = atan2(a[0], a[2]) * 180 / M_PI;
    pose->pitch = asin(fmax(-1, fmin(1, -a[1]))) * 180 / M_PI;
    pose->focal = s->room.focal * p->width / s->fw * c.zoom;
    return 0;
}
