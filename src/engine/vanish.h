/*
 * vanish.h - the camera from the line segments of a Manhattan world: three
 * orthogonal vanishing directions, the focal length and the rotation they
 * imply, the principal point assumed at the image centre, square pixels.
 *
 * Hypotheses come from minimal sets of segments (RANSAC, deterministic
 * seed): two pairs of segments give two vanishing points whose orthogonality
 * fixes the focal length; or one pair, one more segment and a focal length
 * from a short list of priors give all three directions (the second lies on
 * the first's orthogonal "vanishing line"). Each hypothesis is scored by the
 * length of the segments pointing at one of its vanishing points; the best is
 * refined by Gauss-Newton on the rotation and log focal over the inliers'
 * angular errors, with a weak prior on the focal length that only decides it
 * when the lines do not (e.g. one-point perspective, where two of the
 * vanishing points are at infinity).
 */
#ifndef I2V_VANISH_H
#define I2V_VANISH_H

#include "lines.h"

/* Room axes: X lateral, Y down (gravity), Z depth (away from the camera). */
enum { I2V_AXIS_X = 0, I2V_AXIS_Y = 1, I2V_AXIS_Z = 2 };

typedef struct i2v_manhattan {
    int found;          /* a hypothesis was found at all */
    double f;           /* focal length, pixels of the analysed image */
    double cx, cy;      /* principal point: the image centre */
    double R[9];        /* row-major; column k = room axis k in camera coordinates
                           (camera: x right, y down, z forward): X_cam = R X_room */
    int focal_measured; /* 1: the lines fix f to within 10%; 0: the prior does */
    double focal_sigma; /* standard deviation of ln f from the lines alone */
    double total_len;   /* length of all segments used */
    double fam_len[3];  /* inlier length per axis */
    int fam_n[3];       /* inlier segments per axis */
    double share;       /* sum(fam_len) / total_len */
    double rms_deg;     /* rms angular error of the inliers, degrees */
} i2v_manhattan;

/* Fits the Manhattan frame to n segments of a w x h image. label (may be
 * NULL) receives per segment its axis 0..2, or -1 (outlier or too short).
 * Never fails: m->found says whether anything fit. */
/* Rotation by angle a about the unit axis k (Rodrigues), row-major. */
void i2v__axis_rotation(const double k[3], double a, double M[9]);

void i2v__manhattan_fit(const i2v_segment *seg, int n, int w, int h, i2v_manhattan *m, int *label);

/* The vanishing point of room axis k, homogeneous image coordinates
 * (v[2] == 0: at infinity). */
void i2v__manhattan_vp(const i2v_manhattan *m, int k, double v[3]);

/* Angle in radians between a segment and the direction from its midpoint to
 * the homogeneous point v. */
double i2v__segment_vp_angle(const i2v_segment *s, const double v[3]);

/* Angular tolerance used for a segment of this length, radians. */
double i2v__segment_tolerance(double length);

#endif
