/*
 * resample_speed.c - times the renderer alone (no encoder): the resampling of
 * every frame of a plan into YUV 4:2:0 planes, single-threaded. Used to see
 * what the renderer adds on top of the encoder.
 *
 *   build/bench/resample_speed PHOTO [WIDTH HEIGHT [MOVE]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/colour.h"
#include "engine/photo.h"
#include "engine/plan.h"
#include "engine/render.h"
#include "engine/resample.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: resample_speed PHOTO [W H [MOVE]]\n");
        return 2;
    }
    i2v_error err = {0};
    i2v_photo *photo = NULL;
    i2v_plan *plan = NULL;
    i2v_spec spec;
    i2v_spec_init(&spec);
    spec.width = argc > 3 ? atoi(argv[2]) : 1920;
    spec.height = argc > 3 ? atoi(argv[3]) : 1080;
    if (argc > 4 && i2v_move_parse(argv[4], &spec.move) != 0) return 2;
    if (i2v_photo_open_file(&photo, argv[1], NULL, &err) ||
        i2v_plan_new(&plan, photo, &spec, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    i2v_rgb rgb;
    int min_w, min_h;
    i2v__render_min_size(photo, plan, 0, &min_w, &min_h);
    if (i2v__photo_decode(photo, min_w, min_h, &rgb, &err)) return 1;
    const double sx = (double)rgb.width / photo->width;
    i2v_ycc ycc;
    i2v__ycc_from_rgb(&rgb, &ycc, &err);
    const int W = spec.width, H = spec.height;
    uint8_t *buf = malloc((size_t)W * H * 3 / 2);
    i2v_plane dst[3] = {{buf, W, H, W},
                        {buf + W * H, W / 2, H / 2, W / 2},
                        {buf + W * H * 5 / 4, W / 2, H / 2, W / 2}};
    i2v_axis ax[2] = {{0}}, ay[2] = {{0}};
    i2v_rscratch s = {0};
    double t0 = now(), taxes = 0;
    int maxtaps = 0;
    for (int i = 0; i < plan->frames; i++) {
        i2v_view v;
        i2v_plan_view(plan, i, &v);
        double vx = v.x * sx, vy = v.y * sx, vw = v.w * sx, vh = v.h * sx;
        double ta = now();
        i2v__view_axes(&ycc, W, H, vx, vy, vw, vh, I2V_KERNEL_CUBIC, ax, ay, &err);
        taxes += now() - ta;
        if (ax[0].taps > maxtaps) maxtaps = ax[0].taps;
        i2v__rscratch_reserve(&s, (size_t)(ax[0].hi - ax[0].lo), &err);
        i2v__resample_rows(&ycc.p[0], &dst[0], &ax[0], &ay[0], 0, H, &s);
        i2v__resample_rows(&ycc.p[1], &dst[1], &ax[1], &ay[1], 0, H / 2, &s);
        i2v__resample_rows(&ycc.p[2], &dst[2], &ax[1], &ay[1], 0, H / 2, &s);
    }
    double t = now() - t0;
    printf("frames=%d size=%dx%d source=%dx%d max_taps=%d total=%.3fs per_frame=%.2fms "
           "weights=%.2fms\n",
           plan->frames, W, H, ycc.p[0].width, ycc.p[0].height, maxtaps, t, 1000 * t / plan->frames,
           1000 * taxes / plan->frames);
    return 0;
}
