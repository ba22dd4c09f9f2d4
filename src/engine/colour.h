/*
 * colour.h - BT.709 limited-range conversions between packed RGB and the
 * planar YCbCr the renderer and encoder work in.
 *
 * Chroma siting: the working planes built from RGB average 2x2 blocks (chroma
 * sample i centred on luma position 2i+1, in luma units where pixel x covers
 * [x, x+1)); the output follows H.264's default "left" siting (centred on
 * 2i+0.5 horizontally, 2j+1 vertically). render.c maps between the two.
 */
#ifndef I2V_COLOUR_H
#define I2V_COLOUR_H

#include "image.h"
#include "resample.h"

typedef struct i2v_ycc {
    i2v_plane p[3]; /* Y full size, Cb and Cr (w+1)/2 x (h+1)/2; one allocation */
    uint8_t *mem;
} i2v_ycc;

int i2v__ycc_from_rgb(const i2v_rgb *rgb, i2v_ycc *out, i2v_error *err);
void i2v__ycc_release(i2v_ycc *y);

/* Converts 4:2:0 planes (left-sited chroma) back to packed RGB, for covers. */
void i2v__yuv420_to_rgb(const uint8_t *const planes[3], const int strides[3], int w, int h,
                        uint8_t *rgb);

#endif
