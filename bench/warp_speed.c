/*
 * warp_speed.c - times the 3D camera's warp alone (no encoder, one thread):
 * every frame of a 3D move of a room photo warped into YUV 4:2:0 planes, as
 * render.c does. Each frame is also rendered by the scalar per-sample path
 * (exact positions, no vector code) and compared: the largest and mean
 * absolute difference per plane and the share of samples that differ.
 *
 *   build/bench/warp_speed PHOTO [W H [MOVE [REPS [COMPARE]]]]
 *
 * Prints the median over REPS (default 5) passes of the warp's time per
 * frame (luma, and both chroma planes; wall and the thread's CPU time), then
 * the comparison (COMPARE 0: none, for profiles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/colour.h"
#include "engine/photo.h"
#include "engine/plan.h"
#include "engine/render.h"
#include "engine/warp3d.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void warp_frame(const i2v_warp *w, const i2v_ycc *ycc, i2v_plane *dst)
{
    i2v__warp_rows(w, &ycc->p[0], &dst[0], 0, 0, dst[0].height);
    i2v__warp_rows2(w, &ycc->p[1], &dst[1], &ycc->p[2], &dst[2], 0, dst[1].height);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: warp_speed PHOTO [W H [MOVE [REPS [COMPARE]]]]\n");
        return 2;
    }
    i2v_error err = {0};
    i2v_photo *photo = NULL;
    i2v_plan *plan = NULL;
    i2v_spec spec;
    i2v_spec_init(&spec);
    spec.width = argc > 3 ? atoi(argv[2]) : 1280;
    spec.height = argc > 3 ? atoi(argv[3]) : 720;
    if (i2v_move_parse(argc > 4 ? argv[4] : "DOLLY_IN", &spec.move) != 0) return 2;
    const int reps = argc > 5 ? atoi(argv[5]) : 5;
    if (i2v_photo_open_file(&photo, argv[1], NULL, &err) ||
        i2v_plan_new(&plan, photo, &spec, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    const i2v_shot *sh = &plan->shot[0];
    if (!sh->cam3d) {
        fprintf(stderr, "the plan does not use the 3D camera: %s\n", plan->camera_note);
        return 1;
    }
    int min_w, min_h;
    i2v__render_min_size(photo, plan, 0, &min_w, &min_h);
    i2v_rgb rgb;
    i2v_ycc ycc;
    if (i2v__photo_decode(photo, min_w, min_h, &rgb, &err) || i2v__ycc_from_rgb(&rgb, &ycc, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    const double kx = (double)rgb.width / photo->width, ky = (double)rgb.height / photo->height;
    const int W = plan->width, H = plan->height, n = sh->nmove;
    const size_t fsz = (size_t)W * H * 3 / 2;
    uint8_t *buf = malloc(fsz), *ref = malloc(fsz);
    double *per = malloc(sizeof(double) * (reps > 0 ? reps : 1));
    double *cpu = malloc(sizeof(double) * (reps > 0 ? reps : 1));
    if (!buf || !ref || !per || !cpu) return 1;
    i2v_plane dst[3] = {{buf, W, H, W},
                        {buf + (size_t)W * H, W / 2, H / 2, W / 2},
                        {buf + (size_t)W * H * 5 / 4, W / 2, H / 2, W / 2}};
    i2v_plane rdst[3] = {{ref, W, H, W},
                         {ref + (size_t)W * H, W / 2, H / 2, W / 2},
                         {ref + (size_t)W * H * 5 / 4, W / 2, H / 2, W / 2}};
    int avx2 = 0;
    for (int r = 0; r < reps; r++) {
        const double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        for (int j = 0; j < n; j++) {
            const i2v_cam3d c = i2v__shot_cam3d(sh, j);
            i2v_warp w;
            i2v__warp_setup(&w, &sh->scene, &c, kx, ky, I2V_KERNEL_CUBIC);
            avx2 = w.avx2;
            warp_frame(&w, &ycc, dst);
        }
        per[r] = (clock_s(CLOCK_MONOTONIC) - t0) / n;
        cpu[r] = (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
    }
    qsort(per, (size_t)reps, sizeof *per, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    printf("frames=%d size=%dx%d source=%dx%d avx2=%d warp_ms_per_frame=%.2f (min %.2f, max "
           "%.2f, %d passes) cpu_ms_per_frame=%.2f\n",
           n, W, H, ycc.p[0].width, ycc.p[0].height, avx2, 1000 * per[reps / 2], 1000 * per[0],
           1000 * per[reps - 1], reps, 1000 * cpu[reps / 2]);
    if (argc > 6 && !atoi(argv[6])) return 0;
    /* Against the scalar per-sample path. */
    long long diff[3] = {0}, cnt[3] = {0}, sum[3] = {0};
    int mx[3] = {0};
    for (int j = 0; j < n; j++) {
        const i2v_cam3d c = i2v__shot_cam3d(sh, j);
        i2v_warp w;
        i2v__warp_setup(&w, &sh->scene, &c, kx, ky, I2V_KERNEL_CUBIC);
        warp_frame(&w, &ycc, dst);
        w.avx2 = 0;
        warp_frame(&w, &ycc, rdst);
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < dst[p].height; y++)
                for (int x = 0; x < dst[p].width; x++) {
                    const int d = abs(dst[p].data[(size_t)y * dst[p].stride + x] -
                                      rdst[p].data[(size_t)y * rdst[p].stride + x]);
                    sum[p] += d, cnt[p]++, diff[p] += d != 0;
                    if (d > mx[p]) mx[p] = d;
                }
    }
    static const char *name[3] = {"Y", "Cb", "Cr"};
    for (int p = 0; p < 3; p++)
        printf("vs scalar %s: max %d mean %.6f differing %lld of %lld\n", name[p], mx[p],
               (double)sum[p] / cnt[p], diff[p], cnt[p]);
    return 0;
}
