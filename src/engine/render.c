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
#include "common/error.h"
#include "photo.h"
#include "plan.h"
#include "pool.h"
#include "render.h"
#include "resample.h"
#include "warp3d.h"

#define MAX_WORKERS 64
#define FEATHER 4.0 /* output pixels over which a photo's edge fades out in a travel */

typedef struct frame_ctx {
    const i2v_ycc *src[2];
    i2v_plane dst[3];            /* layer 0, then the blend: the encoder's frame */
    i2v_plane tmp[3];            /* layer 1 */
    i2v_axis ax[2][2], ay[2][2]; /* [layer][luma, chroma] */
    int layers;
    double mix;               /* weight of layer 1 */
    int full;                 /* both layers cover the whole frame */
    float *cov[2][2][2];      /* [layer][x, y][luma, chroma]: how much of the layer is photo */
    const i2v_grade *grade;   /* NULL: no grading */
    const uint16_t *vignette; /* NULL: none */
    int bands, nworkers;
    i2v_rscratch scratch[MAX_WORKERS];
    int use_warp; /* the frame is one of the 3D camera: warp below, one layer */
    i2v_warp warp;
    int use_fl3d;          /* first-last on rooms: both layers warped, blended per sample */
    i2v_warp warpb;        /* the second layer's */
    float *fl_cov;         /* per worker: 2 rows of coverage, W samples each */
    double src_size[2][2]; /* [layer][w, h]: the decoded photos' luma size */
} frame_ctx;

static void blend_rows(frame_ctx *f, int p, int r0, int r1)
{
    const int res = p ? 1 : 0, w = f->dst[p].width;
    uint8_t *const dbase = f->dst[p].data;
    const uint8_t *const tbase = f->tmp[p].data;
    if (f->full) {
        const int m = (int)lround(f->mix * 256);
        for (int y = r0; y < r1; y++) {
            uint8_t *d = dbase + y * f->dst[p].stride;
            const uint8_t *t = tbase + y * f->tmp[p].stride;
            for (int x = 0; x < w; x++)
                d[x] = (uint8_t)((d[x] * (256 - m) + t[x] * m + 128) >> 8);
        }
        return;
    }
    const float mix = (float)f->mix;
    const float *ax = f->cov[0][0][res], *ay = f->cov[0][1][res];
    const float *bx = f->cov[1][0][res], *by = f->cov[1][1][res];
    for (int y = r0; y < r1; y++) {
        uint8_t *d = dbase + y * f->dst[p].stride;
        const uint8_t *t = tbase + y * f->tmp[p].stride;
        const float wa = (1 - mix) * ay[y], wb = mix * by[y];
        for (int x = 0; x < w; x++) {
            const float a = wa * ax[x], b = wb * bx[x], sum = a + b;
            const float k = sum > 1e-6f ? b / sum : mix;
            d[x] = (uint8_t)lrintf(d[x] + k * (t[x] - d[x]));
        }
    }
}

/* First-last on rooms: the two warped layers mixed per sample, each
 * weighted by how much of it is photo there (a layer whose camera sees past
 * its photo's edge gives way to the other). */
static void fl3d_blend(frame_ctx *f, int y0, int y1, int c0, int c1, float *cov)
{
    const float mix = (float)f->mix;
    for (int p = 0; p < 3; p++) {
        const int chroma = p > 0, r0 = chroma ? c0 : y0, r1 = chroma ? c1 : y1;
        const int w = f->dst[p].width;
        for (int y = r0; y < r1; y++) {
            i2v__warp_cover_row(&f->warp, f->src_size[0][0], f->src_size[0][1], chroma, y, w,
                                FEATHER, cov);
            i2v__warp_cover_row(&f->warpb, f->src_size[1][0], f->src_size[1][1], chroma, y, w,
                                FEATHER, cov + w);
            uint8_t *d = f->dst[p].data + (ptrdiff_t)y * f->dst[p].stride;
            const uint8_t *t = f->tmp[p].data + (ptrdiff_t)y * f->tmp[p].stride;
            for (int x = 0; x < w; x++) {
                const float a = (1 - mix) * cov[x], b = mix * cov[w + x], sum = a + b;
                const float k = sum > 1e-6f ? b / sum : mix;
                d[x] = (uint8_t)lrintf(d[x] + k * (t[x] - d[x]));
            }
        }
    }
}

static void grade_rows(frame_ctx *f, int p, int r0, int r1)
{
    const uint8_t *lut = p == 0 ? f->grade->y : p == 1 ? f->grade->cb : f->grade->cr;
    const int w = f->dst[p].width;
    for (int y = r0; y < r1; y++) {
        uint8_t *d = f->dst[p].data + y * f->dst[p].stride;
        if (p == 0 && f->vignette) {
            const uint16_t *v = f->vignette + (size_t)y * w;
            for (int x = 0; x < w; x++)
                d[x] = (uint8_t)(16 + (((lut[d[x]] - 16) * v[x]) >> 15));
        } else {
            for (int x = 0; x < w; x++)
                d[x] = lut[d[x]];
        }
    }
}

static void render_band(void *arg, int band, int worker)
{
    frame_ctx *f = arg;
    const int h = f->dst[0].height, ch = f->dst[1].height;
    const int y0 = (int)((long)h * band / f->bands), y1 = (int)((long)h * (band + 1) / f->bands);
    const int c0 = (int)((long)ch * band / f->bands), c1 = (int)((long)ch * (band + 1) / f->bands);
    i2v_rscratch *s = &f->scratch[worker];
    if (f->use_fl3d) {
        for (int l = 0; l < 2; l++) {
            const i2v_warp *w = l ? &f->warpb : &f->warp;
            i2v_plane *out = l ? f->tmp : f->dst;
            i2v__warp_rows(w, &f->src[l]->p[0], &out[0], 0, y0, y1);
            i2v__warp_rows2(w, &f->src[l]->p[1], &out[1], &f->src[l]->p[2], &out[2], c0, c1);
        }
        fl3d_blend(f, y0, y1, c0, c1, f->fl_cov + (size_t)worker * 2 * f->dst[0].width);
    }
    if (f->use_warp) {
        i2v__warp_rows(&f->warp, &f->src[0]->p[0], &f->dst[0], 0, y0, y1);
        i2v__warp_rows2(&f->warp, &f->src[0]->p[1], &f->dst[1], &f->src[0]->p[2], &f->dst[2], c0,
                        c1);
    }
    for (int l = 0; l < f->layers && !f->use_warp && !f->use_fl3d; l++) {
        i2v_plane *out = l ? f->tmp : f->dst;
        const i2v_ycc *src = f->src[l];
        i2v__resample_rows(&src->p[0], &out[0], &f->ax[l][0], &f->ay[l][0], y0, y1, s);
        i2v__resample_rows(&src->p[1], &out[1], &f->ax[l][1], &f->ay[l][1], c0, c1, s);
        i2v__resample_rows(&src->p[2], &out[2], &f->ax[l][1], &f->ay[l][1], c0, c1, s);
    }
    if (f->layers == 2 && !f->use_fl3d) {
        blend_rows(f, 0, y0, y1);
        blend_rows(f, 1, c0, c1);
        blend_rows(f, 2, c0, c1);
    }
    if (f->grade) {
        grade_rows(f, 0, y0, y1);
        grade_rows(f, 1, c0, c1);
        grade_rows(f, 2, c0, c1);
    }
}

/* How much of each of n output samples along one axis falls on the photo:
 * 1 inside, fading to 0 over FEATHER output pixels outside its edge. Sample
 * o is centred on output luma position o*stride + offset; the view starts at
 * v0 and spans vlen photo pixels over n_luma output pixels. Returns whether
 * every sample is fully inside. */
static int coverage(float *c, int n, int stride, double offset, double v0, double vlen, int n_luma,
                    double photo_len)
{
    int full = 1;
    const double unit = vlen / n_luma; /* photo pixels per output pixel */
    for (int o = 0; o < n; o++) {
        const double pos = v0 + (o * stride + offset) * unit;
        const double in = fmin(pos, photo_len - pos) / unit;
        double k = in >= 0 ? 1.0 : 1.0 + in / FEATHER;
        k = k < 0 ? 0 : k;
        c[o] = (float)k;
        if (k < 1) full = 0;
    }
    return full;
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

static int build_axes(frame_ctx *f, int l, double vx, double vy, double vw, double vh, i2v_kernel k,
                      i2v_error *err)
{
    int rc = i2v__view_axes(f->src[l], f->dst[0].width, f->dst[0].height, vx, vy, vw, vh, k,
                            f->ax[l], f->ay[l], err);
    if (rc) return rc;
    size_t need = (size_t)(f->ax[l][0].hi - f->ax[l][0].lo);
    if ((size_t)(f->ax[l][1].hi - f->ax[l][1].lo) > need)
        need = (size_t)(f->ax[l][1].hi - f->ax[l][1].lo);
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

void i2v__render_min_size(const i2v_photo *photo, const i2v_plan *plan, int index, int *min_w,
                          int *min_h)
{
    const i2v_shot *s3 = &plan->shot[index];
    if (plan->fl3d) {
        /* The still framing at the ends, and the most magnified sample of
         * the walk's frames in between. */
        double least = s3->fw / plan->width;
        for (int i = 1; i + 1 < plan->frames; i += (plan->frames > 32 ? plan->frames / 32 : 1)) {
            i2v_cam3d c[2];
            double mix, x0, y0, x1, y1, m;
            if (!i2v__plan_fl3d_frame(plan, i, c, &mix)) continue;
            i2v__warp_extent(&s3->scene, &c[index], &x0, &y0, &x1, &y1, &m);
            least = fmin(least, m);
        }
        const double need = plan->spec.model == I2V_MODEL_BASE ? 1.25 : 1.0;
        const double r = need / fmax(least, 1e-6);
        *min_w = *min_h = 0;
        if (r < 1.0) {
            *min_w = (int)ceil(photo->width * r);
            *min_h = (int)ceil(photo->height * r);
        }
        return;
    }
    if (s3->cam3d) {
        /* The most magnified output sample of any frame must still have a
         * source pixel per output pixel (Base: 1.25). */
        double least = INFINITY;
        for (int j = 0; j < s3->nmove; j += (s3->nmove > 16 ? s3->nmove / 16 : 1)) {
            for (int end = 0; end < 2; end++) {
                const i2v_cam3d c = i2v__shot_cam3d(s3, end ? s3->nmove - 1 : j);
                double x0, y0, x1, y1, m;
                i2v__warp_extent(&s3->scene, &c, &x0, &y0, &x1, &y1, &m);
                least = fmin(least, m);
            }
        }
        const double need = plan->spec.model == I2V_MODEL_BASE ? 1.25 : 1.0;
        const double r = need / fmax(least, 1e-6);
        *min_w = *min_h = 0;
        if (r < 1.0) {
            *min_w = (int)ceil(photo->width * r);
            *min_h = (int)ceil(photo->height * r);
        }
        return;
    }
    /* Just large enough that the narrowest view of this photo still has (at
     * least) one source pixel per output pixel; Base keeps 25% more for its
     * wider filter. */
    double vmin = photo->width;
    for (int i = 0; i < plan->frames; i++) {
        i2v_layer L[2];
        const int n = i2v_plan_layers(plan, i, L);
        for (int l = 0; l < n; l++)
            if (L[l].photo == index && L[l].view.w < vmin) vmin = L[l].view.w;
    }
    const double need = plan->width * (plan->spec.model == I2V_MODEL_BASE ? 1.25 : 1.0);
    const double r = need / fmax(vmin, 1.0);
    *min_w = *min_h = 0;
    if (r < 1.0) {
        *min_w = (int)ceil(photo->width * r);
        *min_h = (int)ceil(photo->height * r);
    }
}

/* The sources a 3D shot's warp samples: the decoded photo resampled, with
 * the shot's kernel, to at most WARP_LEVELS sizes, from the one at which the
 * most minified sample of any of its frames (the widest view) takes one
 * source pixel per output pixel along each axis, up to the largest size that
 * some frame still magnifies everywhere (at most the decoded size, which is
 * then the decoded photo itself). Each frame samples the largest level it
 * magnifies everywhere, where the warp is fast: the widest view the
 * smallest, the end of a dolly in the largest. Each copy is resampled from
 * the decoded photo, and only the levels some frame samples are made. */
#define WARP_LEVELS 4

typedef struct warp_src {
    i2v_ycc ycc[WARP_LEVELS];     /* smallest first; empty: the decoded photo */
    double scale[WARP_LEVELS][2]; /* source per photo pixel */
    unsigned char *level;         /* per frame of the move; NULL: level 0 */
} warp_src;

static void warp_src_release(warp_src *ws)
{
    for (int l = 0; l < WARP_LEVELS; l++)
        i2v__ycc_release(&ws->ycc[l]);
    free(ws->level);
    *ws = (warp_src){0};
}

static int warp_src_make(const i2v_ycc *src, const i2v_shot *sh, i2v_kernel k,
                         const double scale[2], warp_src *ws, i2v_error *err)
{
    *ws = (warp_src){.scale = {{scale[0], scale[1]}}};
    const int nf = sh->nmove > 0 ? sh->nmove : 1;
    double *s = malloc(sizeof *s * 2 * (size_t)nf);
    if (!s) return i2v__err(err, I2V_ENOMEM, "out of memory");
    double su = 0, sv = 0;
    for (int j = 0; j < nf; j++) {
        const i2v_cam3d c = i2v__shot_cam3d(sh, j);
        i2v__warp_max_scale(&sh->scene, &c, &s[2 * j], &s[2 * j + 1]);
        su = fmax(su, s[2 * j]), sv = fmax(sv, s[2 * j + 1]);
    }
    const int sw = src->p[0].width, shh = src->p[0].height;
    int rc = 0;
    if (!(su > 0 && sv > 0)) goto done;
    /* Rounded down, except by rounding error: at exactly 1:1 the widest
     * view (the photo's own pose, a pure zoom) samples the smallest level on
     * its sample centres, which keeps it as sharp as the 2D view. */
    int w0 = (int)floor(sh->pw / su + 1e-6), h0 = (int)floor(sh->ph / sv + 1e-6);
    w0 = w0 > sw ? sw : w0 < 2 ? 2 : w0;
    h0 = h0 > shh ? shh : h0 < 2 ? 2 : h0;
    if (w0 == sw && h0 == shh) goto done;
    /* The largest magnification over the smallest level that a whole frame
     * takes: the levels grow geometrically from the smallest to the size
     * that frame still magnifies everywhere (at most the decoded size). */
    double t = 1;
    for (int j = 0; j < nf; j++)
        if (s[2 * j] > 0 && s[2 * j + 1] > 0)
            t = fmax(t, fmin((sh->pw / s[2 * j] + 1e-6) / w0, (sh->ph / s[2 * j + 1] + 1e-6) / h0));
    int w[WARP_LEVELS], h[WARP_LEVELS], n = 0;
    for (int l = 0; l < WARP_LEVELS; l++) {
        const double g = pow(t, (double)l / (WARP_LEVELS - 1));
        const int wl = (int)fmin(sw, floor(w0 * g)), hl = (int)fmin(shh, floor(h0 * g));
        if (n && wl == w[n - 1] && hl == h[n - 1]) continue;
        w[n] = wl, h[n] = hl, n++;
    }
    ws->level = malloc((size_t)nf);
    if (!ws->level) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto done;
    }
    int used[WARP_LEVELS] = {0};
    for (int j = 0; j < nf; j++) {
        int l = n - 1;
        if (!(s[2 * j] > 0 && s[2 * j + 1] > 0)) l = 0;
        while (l > 0 && (w[l] > sh->pw / s[2 * j] + 1e-6 || h[l] > sh->ph / s[2 * j + 1] + 1e-6))
            l--;
        ws->level[j] = (unsigned char)l;
        used[l] = 1;
    }
    for (int l = 0; l < n && !rc; l++) {
        ws->scale[l][0] = scale[0] * w[l] / sw;
        ws->scale[l][1] = scale[1] * h[l] / shh;
        if (used[l] && (w[l] != sw || h[l] != shh))
            rc = i2v__warp_reduce(src, w[l], h[l], k, &ws->ycc[l], err);
    }
done:
    free(s);
    return rc;
}

int i2v_render(const i2v_photo *photo, const i2v_plan *plan, const i2v_output *out, i2v_error *err)
{
    const i2v_photo *const photos[1] = {photo};
    return i2v_render_multi(photos, 1, plan, out, err);
}

int i2v_render_multi(const i2v_photo *const *photos, int n, const i2v_plan *plan,
                     const i2v_output *out, i2v_error *err)
{
    int rc = 0;
    i2v_rgb rgb = {0};
    i2v_ycc *ycc = NULL;
    warp_src *wsrc = NULL;
    double(*scale)[2] = NULL;
    i2v_pool *pool = NULL;
    void *enc = NULL;
    const i2v_encoder_vt *vt = &i2v__encoder_libav;
    char *tmp_video = NULL, *tmp_cover = NULL;
    int video_created = 0, cover_created = 0, samples_created = 0;
    uint8_t *tmp_mem = NULL;
    float *cov_mem = NULL, *audio = NULL, *fl_cov = NULL;
    uint16_t *vignette = NULL;
    frame_ctx *f = calloc(1, sizeof *f);
    if (!f) return i2v__err(err, I2V_ENOMEM, "out of memory");
    if (!out || !out->video_path) {
        rc = i2v__err(err, I2V_EINVAL, "no output path given");
        goto out;
    }
    if (n != plan->nshots) {
        rc = i2v__err(err, I2V_EINVAL, "photos: the plan was made for %d photos, not %d",
                      plan->nshots, n);
        goto out;
    }
    const int W = plan->width, H = plan->height;
    const int base = plan->spec.model == I2V_MODEL_BASE;
    const i2v_kernel kernel = base ? I2V_KERNEL_LANCZOS3 : I2V_KERNEL_CUBIC;

    ycc = calloc((size_t)n, sizeof *ycc);
    scale = calloc((size_t)n, sizeof *scale);
    wsrc = calloc((size_t)n, sizeof *wsrc);
    tmp_mem = malloc((size_t)W * H * 3 / 2);
    cov_mem = malloc(sizeof(float) * 2 * (2 * (size_t)W + 2 * (size_t)H));
    if (!ycc || !scale || !wsrc || !tmp_mem || !cov_mem) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (photos[i]->width != plan->shot[i].pw || photos[i]->height != plan->shot[i].ph) {
            rc = i2v__err(err, I2V_EINVAL, "photos: photo %d is not the one the plan was made for",
                          i + 1);
            goto out;
        }
        int min_w, min_h;
        i2v__render_min_size(photos[i], plan, i, &min_w, &min_h);
        rc = i2v__photo_decode(photos[i], min_w, min_h, &rgb, err);
        if (rc) goto out;
        scale[i][0] = (double)rgb.width / photos[i]->width;
        scale[i][1] = (double)rgb.height / photos[i]->height;
        rc = i2v__ycc_from_rgb(&rgb, &ycc[i], err);
        if (rc) goto out;
        i2v__rgb_release(&rgb);
        /* The 3D camera's frames sample their own copies (the 2D frames of
         * a plan, if any, keep the decoded photo). */
        if (plan->shot[i].cam3d && !plan->fl3d) {
            rc = warp_src_make(&ycc[i], &plan->shot[i], kernel, scale[i], &wsrc[i], err);
            if (rc) goto out;
        }
    }
    f->tmp[0] = (i2v_plane){tmp_mem, W, H, W};
    f->tmp[1] = (i2v_plane){tmp_mem + (size_t)W * H, W / 2, H / 2, W / 2};
    f->tmp[2] = (i2v_plane){tmp_mem + (size_t)W * H * 5 / 4, W / 2, H / 2, W / 2};
    {
        float *c = cov_mem;
        for (int l = 0; l < 2; l++) {
            f->cov[l][0][0] = c, c += W;
            f->cov[l][0][1] = c, c += W;
            f->cov[l][1][0] = c, c += H;
            f->cov[l][1][1] = c, c += H;
        }
    }
    i2v_grade grade;
    int failed = 0;
    vignette = i2v__look_vignette(&plan->look, W, H, &failed);
    if (failed) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory for the vignette");
        goto out;
    }
    f->vignette = vignette;
    if (i2v__look_any(&plan->look)) {
        i2v__look_grade(&plan->look, 0, &grade);
        f->grade = &grade;
    }

    tmp_video = temp_name(out->video_path);
    tmp_cover = out->cover_path ? temp_name(out->cover_path) : NULL;
    if (!tmp_video || (out->cover_path && !tmp_cover)) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    i2v_enc_params ep = {
        tmp_video, W, H, plan->spec.fps, plan->spec.crf, base ? "medium" : "veryfast", NULL, 0, 0};
    if (plan->spec.audio) {
        /* Exactly as long as the video; the same plan gives the same sound. */
        const size_t frames =
            (size_t)llround((double)plan->frames / plan->spec.fps * I2V_AUDIO_RATE);
        rc = i2v__audio_make(plan->sound, frames, (uint32_t)frames, &audio, err);
        if (rc) goto out;
        ep.audio = audio;
        ep.audio_frames = frames;
        ep.audio_rate = I2V_AUDIO_RATE;
    }
    video_created = 1;
    rc = vt->open(&enc, &ep, err);
    if (rc) goto out;

    int threads = out->threads > 0 ? out->threads : i2v__cpu_count();
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    if (i2v__pool_new(&pool, threads) != 0) {
        rc = i2v__err(err, I2V_ENOMEM, "cannot start render threads");
        goto out;
    }
    f->nworkers = i2v__pool_threads(pool);
    f->bands = 4 * f->nworkers;
    if (plan->fl3d) {
        fl_cov = malloc(sizeof(float) * 2 * (size_t)W * f->nworkers);
        if (!fl_cov) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory");
            goto out;
        }
        f->fl_cov = fl_cov;
    }
    for (int i = 0; i < plan->frames; i++) {
        if (out->cancel && *out->cancel) {
            rc = i2v__err(err, I2V_ECANCELLED, "rendering was cancelled at frame %d", i);
            goto out;
        }
        i2v_layer L[2];
        f->layers = i2v_plan_layers(plan, i, L);
        i2v_yuv yuv;
        rc = vt->frame(enc, &yuv, err);
        if (rc) goto out;
        for (int p = 0; p < 3; p++)
            f->dst[p] = (i2v_plane){yuv.data[p], p ? W / 2 : W, p ? H / 2 : H, yuv.linesize[p]};
        f->full = 1;
        f->use_warp = 0;
        f->use_fl3d = 0;
        i2v_cam3d c3[2];
        double mix3;
        if (i2v__plan_fl3d_frame(plan, i, c3, &mix3)) {
            for (int l = 0; l < 2; l++) {
                f->src[l] = &ycc[l];
                f->src_size[l][0] = ycc[l].p[0].width;
                f->src_size[l][1] = ycc[l].p[0].height;
                i2v__warp_setup(l ? &f->warpb : &f->warp, &plan->shot[l].scene, &c3[l], scale[l][0],
                                scale[l][1], kernel);
            }
            f->use_fl3d = 1;
        }
        if (f->layers == 1 && plan->shot[L[0].photo].cam3d) {
            const int k = L[0].photo;
            const i2v_shot *sh = &plan->shot[k];
            const int j = i - sh->f0 < 0 ? 0 : i - sh->f0 >= sh->nmove ? sh->nmove - 1 : i - sh->f0;
            const i2v_cam3d c = i2v__shot_cam3d(sh, j);
            const warp_src *ws = &wsrc[k];
            const int l = ws->level && j >= 0 ? ws->level[j] : 0;
            f->src[0] = ws->ycc[l].mem ? &ws->ycc[l] : &ycc[k];
            i2v__warp_setup(&f->warp, &sh->scene, &c, ws->scale[l][0], ws->scale[l][1], kernel);
            f->use_warp = 1;
        }
        for (int l = 0; l < f->layers && !f->use_warp && !f->use_fl3d; l++) {
            const int k = L[l].photo;
            const i2v_view v = L[l].view;
            f->src[l] = &ycc[k];
            rc = build_axes(f, l, v.x * scale[k][0], v.y * scale[k][1], v.w * scale[k][0],
                            v.h * scale[k][1], kernel, err);
            if (rc) goto out;
            if (f->layers < 2) continue; /* one layer: coverage is not used */
            const double pw = photos[k]->width, ph = photos[k]->height;
            f->full &= coverage(f->cov[l][0][0], W, 1, 0.5, v.x, v.w, W, pw);
            f->full &= coverage(f->cov[l][0][1], W / 2, 2, 1.0, v.x, v.w, W, pw);
            f->full &= coverage(f->cov[l][1][0], H, 1, 0.5, v.y, v.h, H, ph);
            f->full &= coverage(f->cov[l][1][1], H / 2, 2, 1.0, v.y, v.h, H, ph);
        }
        f->mix = f->layers == 2 ? L[1].weight : 0;
        /* The grade only changes over time for "day to night". */
        if (f->grade && plan->look.day_to_night)
            i2v__look_grade(&plan->look, plan->frames > 1 ? (double)i / (plan->frames - 1) : 0,
                            &grade);
        i2v__pool_run(pool, render_band, f, f->bands);
        if (i == 0 && tmp_cover) {
            cover_created = 1;
            rc = write_cover(&yuv, tmp_cover, err);
            if (rc) goto out;
        }
        /* the samples, in order: frame indexes only grow */
        while (samples_created < out->nsamples &&
               i == (int)llround((double)(samples_created + 1) * (plan->frames - 1) /
                                 (out->nsamples + 1))) {
            rc = write_cover(&yuv, out->sample_paths[samples_created++], err);
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
    samples_created = 0; /* they stay: the caller's */
out:
    if (enc) vt->close(&enc);
    if (video_created) unlink(tmp_video);
    if (cover_created) unlink(tmp_cover);
    for (int k = 0; k < samples_created; k++)
        unlink(out->sample_paths[k]);
    i2v__pool_free(&pool);
    for (int i = 0; i < MAX_WORKERS; i++)
        i2v__rscratch_release(&f->scratch[i]);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 2; i++) {
            i2v__axis_release(&f->ax[l][i]);
            i2v__axis_release(&f->ay[l][i]);
        }
    free(f);
    free(tmp_video);
    free(tmp_cover);
    if (ycc)
        for (int i = 0; i < n; i++)
            i2v__ycc_release(&ycc[i]);
    if (wsrc)
        for (int i = 0; i < n; i++)
            warp_src_release(&wsrc[i]);
    free(ycc);
    free(wsrc);
    free(scale);
    free(tmp_mem);
    free(cov_mem);
    free(fl_cov);
    free(vignette);
    free(audio);
    i2v__rgb_release(&rgb);
    return rc;
}
