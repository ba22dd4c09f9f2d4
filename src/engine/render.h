/*
 * render.h - internal pieces of render.c shared with tools: the decode size a
 * plan needs and the per-frame axis maps of a view.
 */
#ifndef I2V_RENDER_H
#define I2V_RENDER_H

#include "colour.h"
#include "photo.h"
#include "plan.h"
#include "resample.h"

/* The smallest upright decode size the plan needs of its photo `index`
 * (0x0: full size). */
void i2v__render_min_size(const i2v_photo *photo, const i2v_plan *plan, int index, int *min_w,
                          int *min_h);

/* The axis maps of a view (x, y, w, h in working pixels of src) for an
 * out_w x out_h frame: ax[0]/ay[0] luma, ax[1]/ay[1] chroma (left-sited
 * output chroma mapped into src's centred chroma grid). */
int i2v__view_axes(const i2v_ycc *src, int out_w, int out_h, double vx, double vy, double vw,
                   double vh, i2v_kernel k, i2v_axis ax[2], i2v_axis ay[2], i2v_error *err);

#endif
