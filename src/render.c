/*
 * render.c - the frame loop: decode at the size the move needs, convert to
 * YCbCr planes once, then for every frame build the four axis maps of its view
 * and resample the three planes straight into the encoder's frame, split in
 * row bands across the thread pool.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colour.h"
#include "encode.h"
#include "error.h"
#include "photo.h"
#include "plan.h"
#include "pool.h"
#include "render.h"
#include "resample.h"

#define MAX_WORKERS 64

typedef struct frame_ctx {
    const i2v_ycc *src;
    i2v_plane dst[3];
    i2v_axis ax[2], ay[2]; /* [0] luma, [1] chroma */
    int bands, nworkers;
    i2v_rscratch scratch[MAX_WORKERS];
} frame_ctx;

static void render_band(void *arg, int band, int worker)
{
    frame_ctx *f = arg;
    const int h = f->dst[0].height, ch = f->dst[1].height;
    const int y0 = (int)((long)h * band / f->bands), y1 = (int)((long)h * (band + 1) / f->bands);
    const int c0 = (int)((long)ch * band / f->bands), c1 = (int)((long)ch * (band + 1) / f->bands);
    i2v_rscratch *s = &f->scratch[worker];
    i2v__resample_rows(&f->src->p[0], &f->dst[0], &f->ax[0], &f->ay[0], y0, y1, s);
    i2v__resample_rows(&f->src->p[1], &f->dst[1], &f->ax[1], &f->ay[1], c0, c1, s);
    i2v__resample_rows(&f->src->p[2], &f->dst[2], &f->ax[1], &f->ay[1], c0, c1, s);
}

/*
 * Maps a view (in decoded pixels) to the four axes. Luma output sample o is
 * centred at luma position a + step*(o + 0.5), i.e. source sample index
 * a + step*(o + 0.5) - 0.5. Output chroma is left-sited (2i + 0.5, 2j + 1 in
 * output luma units) and working chroma is centred on 2i + 1, hence the
 * chroma offsets below.
 */
int i2v__view_axes(const i2v_ycc *src, int out_w, int out_h, double vx, double vy, double vw,
                   double vh, i2v_kernel k, i2v_axis ax[2], i2v_axis ay[2], i2v_error *err)
{
    const i2v_plane *Y = &src->p[0], *C = &src->p[1];
    const double sx = vw / out_w, sy = vh / out_h;
    int rc = i2v__axis_build(&ax[0], out_w, Y->width, vx + 0.5 * sx - 0.5, sx, k, err);
    if (!rc) rc = i2v__axis_build(&ay[0], out_h, Y->height, vy + 0.5 * sy - 0.5, sy, k, err);
    if (!rc)
        rc = i2v__axis_build(&ax[1], out_w / 2, C->width, (vx + 0.5 * sx - 1.0) / 2.0, sx, k, err);
    if (!rc) rc = i2v__axis_build(&ay[1], out_h / 2, C->height, (vy + sy - 1.0) / 2.0, sy, k, err);
    return rc;
}

static int build_axes(frame_ctx *f, double vx, double vy, double vw, double vh, i2v_kernel k,
                      i2v_error *err)
{
    int rc = i2v__view_axes(f->src, f->dst[0].width, f->dst[0].height, vx, vy, vw, vh, k, f->ax,
                            f->ay, err);
    if (rc) return rc;
    size_t need = (size_t)(f->ax[0].hi - f->ax[0].lo);
    if ((size_t)(f->ax[1].hi - f->ax[1].lo) > need) need = (size_t)(f->ax[1].hi - f->ax[1].lo);
    for (int i = 0; i < f->nworkers; i++) {
        rc = i2v__rscratch_reserve(&f->scratch[i], need, err);
        if (rc) return rc;
    }
    return 0;
}

static int write_cover(const i2v_yuv *y, const char *path, i2v_error *err)
{
    uint8_t *rgb = malloc((size_t)y->width * y->height * 3);
    if (!rgb) return i2v__err(err, I2V_ENOMEM, "out of memory for the cover");
    const uint8_t *planes[3] = {y->data[0], y->data[1], y->data[2]};
    i2v__yuv420_to_rgb(planes, y->linesize, y->width, y->height, rgb);
    int rc = i2v__write_jpeg(path, rgb, y->width, y->height, 90, err);
    free(rgb);
    return rc;
}

static char *temp_name(const char *path)
{
    size_t n = strlen(path) + 32;
    char *t = malloc(n);
    if (t) snprintf(t, n, "%s.part-%ld", path, (long)getpid());
    return t;
}

void i2v__render_min_size(const i2v_photo *photo, const i2v_plan *plan, int *min_w, int *min_h)
{
    /* Just large enough that the deepest zoom still has (at least) one source
     * pixel per output pixel; Base keeps 25% more for its wider filter. */
    const double need =
        plan->width * plan->max_zoom * (plan->spec.model == I2V_MODEL_BASE ? 1.25 : 1.0);
    const double r = need / plan->fw;
    *min_w = *min_h = 0;
    if (r < 1.0) {
        *min_w = (int)ceil(photo->width * r);
        *min_h = (int)ceil(photo->height * r);
    }
}

int i2v_render(const i2v_photo *photo, const i2v_plan *plan, const i2v_output *out, i2v_error *err)
{
    int rc = 0;
    i2v_rgb rgb = {0};
    i2v_ycc ycc = {0};
    i2v_pool *pool = NULL;
    void *enc = NULL;
    const i2v_encoder_vt *vt = &i2v__encoder_libav;
    char *tmp_video = NULL, *tmp_cover = NULL;
    int video_created = 0, cover_created = 0;
    frame_ctx *f = calloc(1, sizeof *f);
    if (!f) return i2v__err(err, I2V_ENOMEM, "out of memory");
    if (!out || !out->video_path) {
        rc = i2v__err(err, I2V_EINVAL, "no output path given");
        goto out;
    }
    const int W = plan->width, H = plan->height;
    const int base = plan->spec.model == I2V_MODEL_BASE;

    int min_w, min_h;
    i2v__render_min_size(photo, plan, &min_w, &min_h);
    rc = i2v__photo_decode(photo, min_w, min_h, &rgb, err);
    if (rc) goto out;
    const double sx = (double)rgb.width / photo->width, sy = (double)rgb.height / photo->height;
    rc = i2v__ycc_from_rgb(&rgb, &ycc, err);
    if (rc) goto out;
    i2v__rgb_release(&rgb);

    tmp_video = temp_name(out->video_path);
    tmp_cover = out->cover_path ? temp_name(out->cover_path) : NULL;
    if (!tmp_video || (out->cover_path && !tmp_cover)) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    const i2v_enc_params ep = {
        tmp_video, W, H, plan->spec.fps, plan->spec.crf, base ? "medium" : "veryfast"};
    video_created = 1;
    rc = vt->open(&enc, &ep, err);
    if (rc) goto out;

    int threads = out->threads > 0 ? out->threads : i2v__cpu_count();
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    if (i2v__pool_new(&pool, threads) != 0) {
        rc = i2v__err(err, I2V_ENOMEM, "cannot start render threads");
        goto out;
    }
    f->src = &ycc;
    f->nworkers = i2v__pool_threads(pool);
    f->bands = 4 * f->nworkers;
    const i2v_kernel kernel = base ? I2V_KERNEL_LANCZOS3 : I2V_KERNEL_CUBIC;
    for (int i = 0; i < plan->frames; i++) {
        if (out->cancel && *out->cancel) {
            rc = i2v__err(err, I2V_ECANCELLED, "rendering was cancelled at frame %d", i);
            goto out;
        }
        i2v_view v;
        i2v_plan_view(plan, i, &v);
        i2v_yuv yuv;
        rc = vt->frame(enc, &yuv, err);
        if (rc) goto out;
        for (int p = 0; p < 3; p++)
            f->dst[p] = (i2v_plane){yuv.data[p], p ? W / 2 : W, p ? H / 2 : H, yuv.linesize[p]};
        rc = build_axes(f, v.x * sx, v.y * sy, v.w * sx, v.h * sy, kernel, err);
        if (rc) goto out;
        i2v__pool_run(pool, render_band, f, f->bands);
        if (i == 0 && tmp_cover) {
            cover_created = 1;
            rc = write_cover(&yuv, tmp_cover, err);
            if (rc) goto out;
        }
        rc = vt->submit(enc, err);
        if (rc) goto out;
        if (out->progress && out->progress(out->progress_user, i + 1, plan->frames)) {
            rc = i2v__err(err, I2V_ECANCELLED, "rendering was cancelled at frame %d", i + 1);
            goto out;
        }
    }
    rc = vt->finish(enc, err);
    if (rc) goto out;
    vt->close(&enc);
    if (rename(tmp_video, out->video_path) != 0) {
        rc = i2v__err(err, I2V_EIO, "cannot write %s: %s", out->video_path, strerror(errno));
        goto out;
    }
    video_created = 0;
    if (tmp_cover) {
        if (rename(tmp_cover, out->cover_path) != 0) {
            rc = i2v__err(err, I2V_EIO, "cannot write %s: %s", out->cover_path, strerror(errno));
            unlink(out->video_path);
            goto out;
        }
        cover_created = 0;
    }
out:
    if (enc) vt->close(&enc);
    if (video_created) unlink(tmp_video);
    if (cover_created) unlink(tmp_cover);
    i2v__pool_free(&pool);
    for (int i = 0; i < MAX_WORKERS; i++)
        i2v__rscratch_release(&f->scratch[i]);
    for (int i = 0; i < 2; i++) {
        i2v__axis_release(&f->ax[i]);
        i2v__axis_release(&f->ay[i]);
    }
    free(f);
    free(tmp_video);
    free(tmp_cover);
    i2v__ycc_release(&ycc);
    i2v__rgb_release(&rgb);
    return rc;
}
