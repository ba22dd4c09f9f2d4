/*
 * lines.h - straight line segments of a grey image, LSD-style (Grompone von
 * Gioi et al., "LSD: a Line Segment Detector", IPOL 2012), written here.
 *
 * Level-line angles from a 2x2 gradient; pixels pseudo-ordered by gradient
 * magnitude seed regions of pixels whose level-line angle agrees within 22.5
 * degrees; each region is fitted by a rectangle (gradient-weighted centroid and
 * principal axis), refined when it is too sparse, and kept only when the
 * a-contrario count of false alarms says so (NFA <= 1: the number of aligned
 * pixels in the rectangle would be expected less than once in a noise image of
 * the same size). Coordinates are continuous: pixel (0,0) covers [0,1)x[0,1).
 */
#ifndef I2V_LINES_H
#define I2V_LINES_H

#include <math.h>

#include "i2v/i2v.h"

typedef struct i2v_segment {
    double x1, y1, x2, y2; /* end points */
    double width;          /* of the fitted rectangle, pixels */
    double log_nfa;        /* -log10(NFA): > 0 for every segment returned */
} i2v_segment;

#define I2V_SEGMENTS_MAX 4000

/* Detects segments in a w x h grey image (values 0..255, row-major). On
 * success *out is a malloc'ed array of *n segments (caller frees), longest
 * first, at most I2V_SEGMENTS_MAX. */
int i2v__lines_detect(const float *grey, int w, int h, i2v_segment **out, int *n, i2v_error *err);

static inline double i2v__segment_length(const i2v_segment *s)
{
    const double dx = s->x2 - s->x1, dy = s->y2 - s->y1;
    return sqrt(dx * dx + dy * dy);
}

#endif
