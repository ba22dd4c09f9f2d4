/*
 * room.h - the box layout of a room from its Manhattan frame and its line
 * segments, the confidence that a photo is a room at all, and the geometry
 * the 3D camera needs (which face a ray meets, and where).
 *
 * The layout is a box aligned with the room axes around the camera: floor at
 * Y = +h (h: the eye height), ceiling at Y = -c, walls at X = -a and X = +b,
 * back wall at Z = +d (and, never seen, a front wall behind the camera).
 * It is chosen to agree with the segments: each segment direction belongs to
 * the planes that contain it (a vertical segment to a wall, never to the
 * floor), and the box's edges (floor-wall, wall-wall, wall-ceiling) should
 * lie on segments of their direction. A coarse-to-fine coordinate search
 * over the four free distances maximises that agreement; the distances of
 * planes whose edges are seen are then re-measured from the supporting
 * segments themselves.
 */
#ifndef I2V_ROOM_H
#define I2V_ROOM_H

#include "i2v/i2v.h"
#include "image.h"
#include "lines.h"
#include "vanish.h"

#define I2V_EYE_HEIGHT 1.5 /* metres: where a camera is usually held indoors */
#define I2V_ROOM_PREVIEW 640

/* Faces as planes: i2v_face order, then the front wall (behind the camera). */
#define I2V_PLANES 6

/* Everything the estimate found, at the preview's scale, for the overlay and
 * the tests. */
typedef struct i2v_room_fit {
    int pw, ph;       /* preview size */
    double sx, sy;    /* photo pixels per preview pixel */
    i2v_segment *seg; /* owned */
    int *label;       /* per segment: axis 0..2 or -1; owned */
    int nseg;
    i2v_manhattan m;
    double dist[I2V_PLANES]; /* plane distances in eye heights (floor = 1) */
} i2v_room_fit;

void i2v__room_fit_release(i2v_room_fit *fit);

/* Finds the room in an upright RGB picture of the photo (any size; it is
 * reduced to I2V_ROOM_PREVIEW on its long side) whose full size is
 * photo_w x photo_h. fit may be NULL. */
int i2v__room_find(const i2v_rgb *rgb, int photo_w, int photo_h, i2v_room *room, i2v_room_fit *fit,
                   i2v_error *err);

/* The same on segments already found in a w x h image (tests: synthetic
 * line sets). The photo is taken to be w x h. */
void i2v__room_from_segments(const i2v_segment *seg, int n, int w, int h, double sky,
                             i2v_room *room, i2v_room_fit *fit);

/* Unit normal (room axes, pointing away from the camera) of plane k. */
extern const double i2v__plane_normal[I2V_PLANES][3];

/* The plane a ray (room axes) from the camera meets first, and the distance
 * along it; -1 when it meets none (cannot happen inside a closed box). */
int i2v__box_hit(const double dist[I2V_PLANES], const double r[3], double *lambda);

/* "floor", "ceiling", "left", "right", "back". */
const char *i2v__face_name(int face);

#endif
