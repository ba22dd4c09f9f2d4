/*
 * look.h - the colour grade the prompt asks for ("warm", "cool", "golden
 * hour", "black and white", "cinematic", "day to night"), applied to each
 * finished frame in YCbCr as three lookup tables plus, for "cinematic", a
 * vignette. "day to night" changes over the video: frame time t runs 0..1.
 */
#ifndef I2V_LOOK_H
#define I2V_LOOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct i2v_look {
    double temperature; /* -1 cool .. +1 warm; golden hour 0.8 */
    double saturation;  /* 1 unchanged, 0 black and white */
    double contrast;    /* S-curve strength, 0 none */
    double lift;        /* brightness change, -0.3..0.3 of the range */
    double vignette;    /* darkening at the corners, 0..0.6 */
    int day_to_night;   /* grade runs from the photo to night over the video */
} i2v_look;

void i2v__look_init(i2v_look *l);
/* Reads the look words of prompt (may be NULL). Never fails. */
void i2v__look_parse(const char *prompt, i2v_look *l);
/* Whether the look changes anything at all. */
int i2v__look_any(const i2v_look *l);
/* E.g. "warm cinematic" or "none". */
void i2v__look_describe(const i2v_look *l, char *buf, size_t len);

/* The grade of one frame: lookup tables for Y, Cb and Cr (limited range). */
typedef struct i2v_grade {
    uint8_t y[256], cb[256], cr[256];
} i2v_grade;

void i2v__look_grade(const i2v_look *l, double t, i2v_grade *g);

/* Vignette gain per luma pixel of a w x h frame, Q15 (32768 = 1). Caller
 * frees. NULL when the look has no vignette or on allocation failure
 * (*failed set). */
uint16_t *i2v__look_vignette(const i2v_look *l, int w, int h, int *failed);

#endif
