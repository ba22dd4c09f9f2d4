/*
 * image.h - the decoded picture (8-bit RGB, tightly packed) that every decoder
 * produces, and the EXIF orientation transform applied to it.
 */
#ifndef I2V_IMAGE_H
#define I2V_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "i2v/i2v.h"

typedef struct i2v_rgb {
    int width, height;
    uint8_t *pixels; /* width*height*3 bytes, owned */
} i2v_rgb;

/* A greyscale (BT.709 luma, 0..1) reduction of a picture, for analysis. */
typedef struct i2v_grey {
    int width, height;
    int step;  /* source pixels per grey pixel along each axis */
    float *px; /* width*height, owned */
} i2v_grey;

/* Box-reduces rgb by an integer step (each grey pixel the mean luma of a
 * step x step block). */
int i2v__grey_reduce(const i2v_rgb *rgb, int step, i2v_grey *out, i2v_error *err);
void i2v__grey_release(i2v_grey *g);

/* Allocates an uninitialised w x h buffer; checks the size for overflow. */
int i2v__rgb_alloc(i2v_rgb *img, int width, int height, i2v_error *err);
void i2v__rgb_release(i2v_rgb *img);

/* Applies EXIF orientation 1..8 in place (may reallocate). */
int i2v__rgb_orient(i2v_rgb *img, int orientation, i2v_error *err);

/* Whether orientation 5..8 swaps width and height. */
static inline int i2v__orientation_swaps(int orientation)
{
    return orientation >= 5 && orientation <= 8;
}

/* Composites 8-bit RGBA (straight alpha) over white into RGB, in place-safe order. */
void i2v__rgba_over_white(const uint8_t *rgba, uint8_t *rgb, size_t npixels);

#endif
