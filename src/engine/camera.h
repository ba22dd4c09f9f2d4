/*
 * camera.h - camera paths over the framed photo.
 *
 * The frame is the photo cropped to the output aspect ("cover"). A camera
 * state is a zoom z >= 1 (the view is frame/z) and a centre in frame units
 * (0..1). Zoom is interpolated in log space so the apparent speed is even;
 * the centre either keeps a fixed point still on screen (zooms) or travels in a
 * straight line (pans, push-out). Every state is clamped inside the frame, so
 * the camera never shows anything outside the photo.
 */
#ifndef I2V_CAMERA_H
#define I2V_CAMERA_H

#include "i2v/i2v.h"
#include "prompt.h"

typedef enum { I2V_PATH_FIXED_POINT, I2V_PATH_LINEAR } i2v_path_kind;

typedef struct i2v_path {
    i2v_path_kind kind;
    double z0, z1;     /* zoom at start and end */
    double ax, ay;     /* FIXED_POINT: the point that stays still on screen */
    double c0x, c0y;   /* LINEAR: centre at start */
    double c1x, c1y;   /* LINEAR: centre at end */
    i2v_easing easing; /* IN_OUT or LINEAR */
    int reversed;      /* play the path backwards */
} i2v_path;

typedef struct i2v_cam {
    double z, cx, cy;
} i2v_cam;

/* The easing curve: t in [0,1] -> [0,1], exact at both ends. */
double i2v__ease(i2v_easing e, double t);

/* Builds the path of a concrete move (not AUTO_*). focus is in frame units;
 * steer scales speed and amount and picks the easing. */
void i2v__path_make(i2v_path *p, i2v_move move, double focus_x, double focus_y,
                    const i2v_steer *steer);

/* Camera state at frame i of n (n >= 1). */
i2v_cam i2v__path_at(const i2v_path *p, int i, int n);

/* The view rectangle of a camera state in a frame at (fx, fy, fw, fh). */
i2v_view i2v__cam_view(i2v_cam c, double fx, double fy, double fw, double fh);

/*
 * 3D camera paths through a room (DOLLY_*, TRUCK_*, ORBIT). Positions are in
 * metres in the photo camera's coordinates (x right, y down, z forward); a
 * pose is a position C and a rotation Rf taking photo-camera directions to
 * the moving camera's (X_frame = Rf (X - C)), plus a zoom of the virtual
 * focal length over the framed photo's. Frame 0 of DOLLY_IN and the last
 * frame of DOLLY_OUT are exactly the photo's own camera.
 */
typedef enum { I2V_PATH3D_DOLLY, I2V_PATH3D_TRUCK, I2V_PATH3D_ORBIT } i2v_path3d_kind;

typedef struct i2v_path3d {
    i2v_path3d_kind kind;
    double amount;   /* DOLLY: metres walked; TRUCK: metres from end to end; ORBIT: radians */
    double zoom;     /* virtual focal length over the framed photo's, >= 1 */
    double dir[3];   /* DOLLY: the heading; TRUCK: the camera's right; unit, horizontal */
    double down[3];  /* the room's vertical (gravity) in camera coordinates */
    double pivot[3]; /* ORBIT: the point circled, metres */
    i2v_easing easing;
    int reversed;
} i2v_path3d;

typedef struct i2v_cam3d {
    double C[3];
    double Rf[9]; /* row-major */
    double zoom;
    /* When set, the output camera's own intrinsics (output pixels) instead
     * of the framed photo's zoomed by zoom: focal length and principal
     * point. Two scenes rendered with the same ones agree on every ray. */
    int has_k;
    double fo, cox, coy;
} i2v_cam3d;

/* The pose at frame i of n, or at eased time e in [0, 1] (_at_time). */
i2v_cam3d i2v__path3d_at(const i2v_path3d *p, int i, int n);
i2v_cam3d i2v__path3d_at_time(const i2v_path3d *p, double e);

#endif
