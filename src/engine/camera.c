/* camera.c - the moves of SPEC.md as paths of zoom and centre. */
#include "camera.h"

#include <math.h>
#include <string.h>

#include "vanish.h"

#define ZOOM_AMOUNT 0.30 /* ZOOM_IN 1.0 -> 1.3 */
#define PAN_ZOOM 0.20    /* pans travel at 1.2 */
#define PUSH_AMOUNT 0.35 /* push-out starts at 1.35 */
#define ZOOM_MAX 2.5

double i2v__ease(i2v_easing e, double t)
{
    if (t <= 0) return 0;
    if (t >= 1) return 1;
    if (e == I2V_EASE_LINEAR) return t;
    return 0.5 - 0.5 * cos(M_PI * t);
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Range of centres that keeps a view of zoom z inside the frame. */
static double centre_clamp(double c, double z)
{
    const double h = 0.5 / z;
    return clampd(c, h, 1.0 - h);
}

void i2v__path_make(i2v_path *p, i2v_move move, double fx, double fy, const i2v_steer *s)
{
    const double k = s->speed * s->amount;
    const double zoom = fmin(1.0 + ZOOM_AMOUNT * k, ZOOM_MAX);
    const double pan_zoom = fmin(1.0 + PAN_ZOOM * k, ZOOM_MAX);
    const double push = fmin(1.0 + PUSH_AMOUNT * k, ZOOM_MAX);
    fx = clampd(fx, 0, 1);
    fy = clampd(fy, 0, 1);
    p->easing = s->easing == I2V_EASE_LINEAR ? I2V_EASE_LINEAR : I2V_EASE_IN_OUT;
    p->reversed = 0;
    p->ax = fx;
    p->ay = fy;
    p->kind = I2V_PATH_LINEAR;
    p->z0 = p->z1 = pan_zoom;
    const double lo = 0.5 / pan_zoom, hi = 1.0 - lo;
    /* Pans keep the cross axis on the focus, as far as the zoom allows. */
    const double cx = centre_clamp(fx, pan_zoom), cy = centre_clamp(fy, pan_zoom);
    switch (move) {
    case I2V_MOVE_ZOOM_OUT:
        p->kind = I2V_PATH_FIXED_POINT;
        p->z0 = zoom;
        p->z1 = 1.0;
        break;
    case I2V_MOVE_PAN_RIGHT: /* camera goes right: content slides left */
        p->c0x = lo, p->c1x = hi, p->c0y = p->c1y = cy;
        break;
    case I2V_MOVE_PAN_LEFT:
        p->c0x = hi, p->c1x = lo, p->c0y = p->c1y = cy;
        break;
    case I2V_MOVE_PAN_UP: /* camera goes up: content slides down */
        p->c0y = hi, p->c1y = lo, p->c0x = p->c1x = cx;
        break;
    case I2V_MOVE_PAN_DOWN:
        p->c0y = lo, p->c1y = hi, p->c0x = p->c1x = cx;
        break;
    case I2V_MOVE_CAMERA_PUSH_OUT:
        p->z0 = push;
        p->z1 = 1.0;
        p->c0x = centre_clamp(fx, push);
        p->c0y = centre_clamp(fy, push);
        p->c1x = p->c1y = 0.5;
        break;
    case I2V_MOVE_ZOOM_IN:
    default:
        p->kind = I2V_PATH_FIXED_POINT;
        p->z0 = 1.0;
        p->z1 = zoom;
        break;
    }
}

i2v_cam i2v__path_at(const i2v_path *p, int i, int n)
{
    double t = n > 1 ? (double)i / (n - 1) : 0.0;
    if (p->reversed) t = 1.0 - t;
    const double e = i2v__ease(p->easing, t);
    i2v_cam c;
    c.z = exp(log(p->z0) + e * (log(p->z1) - log(p->z0)));
    if (p->kind == I2V_PATH_FIXED_POINT) {
        /* The anchor a stays at the same place on screen: c = a + (0.5 - a)/z
         * when the path starts at zoom 1 and the full frame. */
        c.cx = p->ax + (0.5 - p->ax) / c.z;
        c.cy = p->ay + (0.5 - p->ay) / c.z;
    } else {
        c.cx = p->c0x + e * (p->c1x - p->c0x);
        c.cy = p->c0y + e * (p->c1y - p->c0y);
    }
    c.cx = centre_clamp(c.cx, c.z);
    c.cy = centre_clamp(c.cy, c.z);
    return c;
}

i2v_view i2v__cam_view(i2v_cam c, double fx, double fy, double fw, double fh)
{
    i2v_view v;
    v.w = fw / c.z;
    v.h = fh / c.z;
    v.x = fx + c.cx * fw - 0.5 * v.w;
    v.y = fy + c.cy * fh - 0.5 * v.h;
    /* Rounding can leave a view a hair outside; pull it back in. */
    if (v.x < fx) v.x = fx;
    if (v.y < fy) v.y = fy;
    if (v.x + v.w > fx + fw) v.x = fx + fw - v.w;
    if (v.y + v.h > fy + fh) v.y = fy + fh - v.h;
    return v;
}

i2v_cam3d i2v__path3d_at_time(const i2v_path3d *p, double e)
{
    i2v_cam3d c;
    memset(&c, 0, sizeof c);
    c.Rf[0] = c.Rf[4] = c.Rf[8] = 1;
    c.zoom = p->zoom;
    switch (p->kind) {
    case I2V_PATH3D_DOLLY:
        for (int i = 0; i < 3; i++)
            c.C[i] = e * p->amount * p->dir[i];
        break;
    case I2V_PATH3D_TRUCK:
        for (int i = 0; i < 3; i++)
            c.C[i] = (e - 0.5) * p->amount * p->dir[i];
        break;
    case I2V_PATH3D_ORBIT: {
        /* Turn about the vertical through the pivot: the camera's position
         * swings around it and the camera turns by the same angle, so the
         * pivot stays where it is on screen. */
        const double a = (e - 0.5) * p->amount;
        double M[9];
        i2v__axis_rotation(p->down, a, M);
        for (int r = 0; r < 3; r++) {
            double v = 0;
            for (int k = 0; k < 3; k++)
                v += M[r * 3 + k] * -p->pivot[k];
            c.C[r] = p->pivot[r] + v;
        }
        /* The frame's axes are the photo camera's turned by M: Rf = M^T. */
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 3; k++)
                c.Rf[r * 3 + k] = M[k * 3 + r];
        break;
    }
    }
    return c;
}

i2v_cam3d i2v__path3d_at(const i2v_path3d *p, int i, int n)
{
    double t = n > 1 ? (double)i / (n - 1) : 0.0;
    if (p->reversed) t = 1.0 - t;
    return i2v__path3d_at_time(p, i2v__ease(p->easing, t));
}
