/*
 * plan.h - internal side of i2v_plan: the framing (cover crop), the analysis
 * it was based on and the camera path; render.c reads these fields.
 */
#ifndef I2V_PLAN_H
#define I2V_PLAN_H

#include "analyze.h"
#include "camera.h"

struct i2v_plan {
    i2v_spec spec;     /* validated; spec.prompt points at prompt below */
    char *prompt;      /* owned copy, may be NULL */
    int width, height; /* output size */
    int frames;
    double fx, fy, fw, fh;   /* the frame (cover crop) in upright photo pixels */
    double focus_x, focus_y; /* in frame units */
    i2v_move move;           /* concrete move */
    i2v_path path;
    i2v_steer steer;
    i2v_analysis analysis;
    char description[512];
    double max_zoom; /* largest zoom along the path */
};

/* AUTO_EFFECTS: chooses a concrete move and a focus (frame units) from the
 * analysis and writes the prompt describing it into text. */
void i2v__plan_choose(const i2v_analysis *a, int out_w, int out_h, i2v_move *move, double *focus_x,
                      double *focus_y, double *amount, char *text, size_t text_len);

#endif
