/*
 * fl3d.h - first-last on rooms: two photos taken as two viewpoints of one
 * room, and the 3D camera's walk from the first to the second.
 *
 * Each photo has its own room (rotation X_cam = R X_room, box distances in
 * metres from the eye height). When both are the same room, the relative
 * rotation of the cameras is R2 R1^T, and the second camera sits at eye
 * height too, so its offset is a horizontal vector: a heading and a
 * distance. The photos' matched features give the heading without any depth
 * (the epipolar constraint, robust consensus over a fine grid of headings).
 * The distance comes from the walls seen in both photos (a wall's distance
 * changes by the offset along its normal); the matched features, put on the
 * first room's box, must agree with it within 40% (they give it alone when
 * no wall faces the walk), so must the points on the floor alone (the floor
 * is the scale: the eye height), and every wall seen in both must be where
 * the first box, moved by the offset, puts it.
 *
 * Coordinates: the first photo's camera (x right, y down, z forward).
 */
#ifndef I2V_FL3D_H
#define I2V_FL3D_H

#include "camera.h"
#include "i2v/i2v.h"

typedef struct i2v_fl3d {
    double Rc[9];       /* directions of camera 1 -> camera 2: X2 = Rc (X1 - C2) */
    double w[3];        /* Rc as a rotation vector (axis times angle, radians) */
    double C2[3];       /* the second camera in the first's coordinates, metres */
    double T[3];        /* the same offset in room axes (X lateral, Y down, Z depth) */
    double T_box[3];    /* the offset the walls seen in both photos give (NAN: none) */
    double dyaw;        /* degrees, second minus first */
    double dpitch;      /* degrees */
    int matches;        /* matches looked at */
    int inliers;        /* consistent with the offset */
    double rms_px;      /* their epipolar (Sampson) error, photo 2 pixels */
    double walk_points; /* metres between the viewpoints from the points on the first box */
    double walk_walls;  /* ... from the walls seen in both photos (0: none informative) */
    double walk_floor;  /* ... from the points on the floor alone */
    int floor_points;   /* how many */
    double wall_err;    /* worst disagreement of a wall seen in both, metres */
    double fo[2];       /* each photo's still framing as an output camera: focal, */
    double cox[2];      /* principal point (output pixels) */
    double coy[2];
} i2v_fl3d;

/* Whether rooms a and b (of photos a and b) are two viewpoints of one room,
 * given n matches (xa, ya, xb, yb in photo pixels). 0 and *out filled when
 * they are; -1 with the reason in why otherwise. */
int i2v__fl3d_relate(const i2v_room *a, const i2v_room *b, const double (*match)[4], int n,
                     i2v_fl3d *out, char *why, size_t why_len);

/* The pose at eased time e (0: the first photo's camera, 1: the second's)
 * for rendering photo k (0 or 1) through its own room: positions and
 * rotation in photo k's camera coordinates, and the shared output camera
 * (intrinsics interpolated from the first photo's framing to the second's). */
i2v_cam3d i2v__fl3d_pose(const i2v_fl3d *f, double e, int k);

#endif
