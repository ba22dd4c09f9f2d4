/*
 * resample.h - separable, sub-pixel exact, anti-aliased resampling of 8-bit
 * planes.
 *
 * Each output axis is an affine map: output sample o is centred on source
 * position c0 + step*o (in source sample units, sample i centred on i). The
 * filter is stretched by max(step, 1), so when the view covers more source
 * samples than output samples the kernel widens and fine detail is averaged
 * instead of aliased. Weights are precomputed per axis (fixed point, each row
 * of weights sums exactly to 1), so positions are never rounded to whole
 * pixels. Edges replicate the border sample.
 */
#ifndef I2V_RESAMPLE_H
#define I2V_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "i2v/i2v.h"

typedef struct i2v_plane {
    uint8_t *data;
    int width, height;
    ptrdiff_t stride;
} i2v_plane;

typedef enum {
    I2V_KERNEL_TRIANGLE, /* radius 1: bilinear when magnifying */
    I2V_KERNEL_CUBIC,    /* radius 2: Keys cubic, a = -0.5 */
    I2V_KERNEL_LANCZOS3, /* radius 3 */
} i2v_kernel;

#define I2V_WEIGHT_BITS 14

typedef struct i2v_axis {
    int n_out, taps;
    int wstride;    /* taps rounded up to a multiple of 8; padding weights are 0 */
    int32_t *start; /* first source index of each output sample */
    int16_t *w;     /* n_out * wstride weights, Q14, each row sums to 1<<14 */
    int lo, hi;     /* source indices touched: [lo, hi) */
} i2v_axis;

double i2v__kernel_eval(i2v_kernel k, double x);
double i2v__kernel_radius(i2v_kernel k);

/* Builds the weights of one axis. The axis keeps its buffers between calls
 * (grown as needed); release with i2v__axis_release. */
int i2v__axis_build(i2v_axis *ax, int n_out, int n_src, double c0, double step, i2v_kernel k,
                    i2v_error *err);
void i2v__axis_release(i2v_axis *ax);

/* Scratch memory for one thread: one intermediate row (plus read-ahead padding). */
typedef struct i2v_rscratch {
    int16_t *row;
    size_t cap;
} i2v_rscratch;

int i2v__rscratch_reserve(i2v_rscratch *s, size_t n, i2v_error *err);
void i2v__rscratch_release(i2v_rscratch *s);

/* Resamples output rows [y0, y1) of dst from src with the two axis maps
 * (vertical pass first, then horizontal). Thread-safe for disjoint rows with
 * separate scratch. */
void i2v__resample_rows(const i2v_plane *src, i2v_plane *dst, const i2v_axis *ax,
                        const i2v_axis *ay, int y0, int y1, i2v_rscratch *s);

#endif
