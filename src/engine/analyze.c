/*
 * analyze.c - detail and line analysis of a photo for framing and AUTO moves.
 *
 * The preview is reduced to a grey image of at most 256 px on the long side;
 * Sobel gradients give edge energy, whose per-cell sums form the detail grid
 * and whose orientation split says whether horizontal or vertical lines
 * dominate.
 */
#include "analyze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define PREVIEW_MAX 256

/* Brightness: the brightest region (a window, a lamp, the sun), whether the
 * top is an open sky and whether the photo looks like a room. */
static void describe_light(i2v_analysis *a)
{
    const int gw = a->gw, gh = a->gh, n = gw * gh;
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += a->luma[i] / n;
    const int r = (gw > gh ? gw : gh) / 10 + 1;
    double best = -1;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            double s = 0;
            int k = 0;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    const int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= gw || yy >= gh) continue;
                    s += a->luma[yy * gw + xx];
                    k++;
                }
            s /= k;
            if (s > best) {
                best = s;
                a->bright_x = (x + 0.5) / gw;
                a->bright_y = (y + 0.5) / gh;
            }
        }
    a->bright_excess = best > mean ? best - mean : 0;
    /* Sky: the top fifth brighter than the rest and poor in detail. */
    const int top = gh / 5 > 0 ? gh / 5 : 1;
    double tl = 0, td = 0;
    for (int y = 0; y < top; y++)
        for (int x = 0; x < gw; x++) {
            tl += a->luma[y * gw + x] / (top * gw);
            td += a->detail[y * gw + x] / (top * gw);
        }
    const double brighter = mean > 0 ? (tl - mean) / (mean + 0.05) : 0;
    double sky = 0.5 + brighter - 0.6 * (td - 0.6);
    a->sky = sky < 0 ? 0 : sky > 1 ? 1 : sky;
    /* A room: detail spread over most cells, vertical edges present, no sky. */
    int busy = 0;
    for (int i = 0; i < n; i++)
        busy += a->detail[i] > 0.35f;
    const double spread = (double)busy / n;
    double sp = (spread - 0.45) / 0.35;
    sp = sp < 0 ? 0 : sp > 1 ? 1 : sp;
    double interior = (1 - a->sky) * sp * (a->lines_v > 0.3 ? 1.0 : 0.6);
    a->interior = interior < 0 ? 0 : interior > 1 ? 1 : interior;
}

int i2v__analyze(const i2v_rgb *img, i2v_analysis *a, i2v_error *err)
{
    memset(a, 0, sizeof *a);
    const int longest = img->width > img->height ? img->width : img->height;
    const int step = longest > PREVIEW_MAX ? (longest + PREVIEW_MAX - 1) / PREVIEW_MAX : 1;
    const int pw = img->width / step, ph = img->height / step;
    if (pw < 8 || ph < 8)
        return i2v__err(err, I2V_EINVAL, "photo is too small to analyse (%dx%d)", img->width,
                        img->height);
    i2v_grey g0;
    int rc = i2v__grey_reduce(img, step, &g0, err);
    if (rc) return rc;
    float *grey = g0.px; /* luma 0..1 */
    if (pw >= ph) {
        a->gw = I2V_GRID_MAX < pw ? I2V_GRID_MAX : pw;
        a->gh = (int)lround((double)a->gw * ph / pw);
    } else {
        a->gh = I2V_GRID_MAX < ph ? I2V_GRID_MAX : ph;
        a->gw = (int)lround((double)a->gh * pw / ph);
    }
    if (a->gw < 1) a->gw = 1;
    if (a->gh < 1) a->gh = 1;
    double eh = 0, ev = 0, total = 0;
    double *rowh = calloc((size_t)ph, sizeof(double));
    int cellpx[I2V_GRID_MAX * I2V_GRID_MAX] = {0};
    if (!rowh) {
        free(grey);
        return i2v__err(err, I2V_ENOMEM, "out of memory analysing the photo");
    }
    for (int y = 1; y < ph - 1; y++)
        for (int x = 1; x < pw - 1; x++) {
            const float *g = grey + y * pw + x;
            float gx = (g[-pw + 1] + 2 * g[1] + g[pw + 1]) - (g[-pw - 1] + 2 * g[-1] + g[pw - 1]);
            float gy = (g[pw - 1] + 2 * g[pw] + g[pw + 1]) - (g[-pw - 1] + 2 * g[-pw] + g[-pw + 1]);
            double m = sqrt((double)gx * gx + (double)gy * gy);
            int cx = x * a->gw / pw, cy = y * a->gh / ph;
            a->detail[cy * a->gw + cx] += (float)m;
            a->luma[cy * a->gw + cx] += g[0];
            cellpx[cy * a->gw + cx] += 1;
            total += m;
            /* A horizontal line has a vertical gradient. */
            eh += (double)gy * gy;
            ev += (double)gx * gx;
            rowh[y] += fabs(gy);
        }
    const int ncell = a->gw * a->gh;
    const double mean = total / ncell;
    for (int i = 0; i < ncell; i++) {
        a->detail[i] = mean > 0 ? (float)(a->detail[i] / mean) : 1.0f;
        a->luma[i] = cellpx[i] ? a->luma[i] / (float)cellpx[i] : 0.0f;
    }
    a->lines_h = (eh + ev) > 0 ? eh / (eh + ev) : 0.5;
    a->lines_v = 1.0 - a->lines_h;
    int best_row = ph / 2;
    for (int y = 1; y < ph - 1; y++)
        if (rowh[y] > rowh[best_row]) best_row = y;
    a->horizon_y = (best_row + 0.5) / ph;

    /* Smooth the grid with a box of radius ~1/8 of the long side, find its peak. */
    const int r = (a->gw > a->gh ? a->gw : a->gh) / 8 + 1;
    double best = -1, sum = 0, wl = 0, wr = 0, wt = 0, wb = 0;
    for (int y = 0; y < a->gh; y++)
        for (int x = 0; x < a->gw; x++) {
            double s = 0;
            int n = 0;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= a->gw || yy >= a->gh) continue;
                    s += a->detail[yy * a->gw + xx];
                    n++;
                }
            s /= n;
            sum += s;
            if (s > best) {
                best = s;
                a->focus_x = (x + 0.5) / a->gw;
                a->focus_y = (y + 0.5) / a->gh;
            }
            const double d = a->detail[y * a->gw + x];
            if (2 * x + 1 < a->gw)
                wl += d;
            else if (2 * x + 1 > a->gw)
                wr += d;
            if (2 * y + 1 < a->gh)
                wt += d;
            else if (2 * y + 1 > a->gh)
                wb += d;
        }
    const double smean = sum / ncell;
    a->concentration = smean > 0 ? best / smean : 1.0;
    a->balance_x = (wl + wr) > 0 ? (wr - wl) / (wr + wl) : 0;
    a->balance_y = (wt + wb) > 0 ? (wb - wt) / (wb + wt) : 0;
    free(rowh);
    free(grey);
    describe_light(a);
    return 0;
}

double i2v__analysis_best_window(const i2v_analysis *a, int axis, double win)
{
    const int n = axis == 0 ? a->gw : a->gh;
    double prof[I2V_GRID_MAX] = {0};
    for (int y = 0; y < a->gh; y++)
        for (int x = 0; x < a->gw; x++)
            prof[axis == 0 ? x : y] += a->detail[y * a->gw + x];
    if (win >= 1.0 || n < 2) return 0.5;
    /* Score each position of the window over the profile; a mild prior keeps
     * the crop near the centre unless one side is clearly richer. */
    const int steps = 64;
    double best = -1e300, best_pos = 0.5, total = 0;
    for (int i = 0; i < n; i++)
        total += prof[i];
    for (int s = 0; s <= steps; s++) {
        const double pos = (double)s / steps;
        const double lo = pos * (1.0 - win) * n, hi = lo + win * n;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            const double c0 = i, c1 = i + 1.0;
            const double ov = fmin(c1, hi) - fmax(c0, lo);
            if (ov > 0) acc += prof[i] * ov;
        }
        const double score = (total > 0 ? acc / total : 0) - 0.15 * fabs(pos - 0.5);
        if (score > best + 1e-12) {
            best = score;
            best_pos = pos;
        }
    }
    return best_pos;
}
