/*
 * align.h - how two photos of one scene line up: corner features matched by
 * normalised patches across a small scale pyramid, and a homography
 * estimated from the matches with RANSAC and refined by least squares.
 *
 * Works on greyscale previews (a few hundred pixels across); the caller
 * scales the result to photo pixels. Deterministic: the RANSAC sampler has a
 * fixed seed.
 */
#ifndef I2V_ALIGN_H
#define I2V_ALIGN_H

#include "image.h"

/* The grey reduction of rgb with its long side at least max_side (an
 * integer step), as alignment works on it. */
int i2v__grey_from_rgb(const i2v_rgb *rgb, int max_side, i2v_grey *out, i2v_error *err);

#define I2V_ALIGN_KEEP 512

typedef struct i2v_align {
    int found; /* a consistent homography with enough support */
    int features_a, features_b;
    int matches; /* mutual best matches passing the ratio test */
    int inliers; /* matches within the RANSAC threshold of H */
    double rms;  /* inlier reprojection error, preview pixels */
    double H[9]; /* row-major, maps a's pixels to b's: b ~ H * (x, y, 1) */
    /* The matches themselves (the first I2V_ALIGN_KEEP): xa, ya, xb, yb. */
    int kept;
    float match[I2V_ALIGN_KEEP][4];
} i2v_align;

/* Estimates how b relates to a. Never fails on content (found = 0 then);
 * only on memory. */
int i2v__align(const i2v_grey *a, const i2v_grey *b, i2v_align *out, i2v_error *err);

/* Applies H to (x, y). */
void i2v__homography_apply(const double H[9], double x, double y, double *ox, double *oy);

/* The homography through four point pairs (src -> dst); -1 when degenerate. */
int i2v__homography_4pt(const double src[8], const double dst[8], double H[9]);

/* The axis-aligned similarity x' = s*x + tx, y' = s*y + ty closest (least
 * squares) to H over the rectangle (x, y, w, h). */
void i2v__homography_similarity(const double H[9], double x, double y, double w, double h,
                                double *s, double *tx, double *ty);

#endif
