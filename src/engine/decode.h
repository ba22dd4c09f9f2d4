/*
 * decode.h - image decoders behind one small interface.
 *
 * Each format is a `const i2v_decoder` (decode_jpeg.c, decode_png.c, ...).
 * The format is recognised from the bytes (sniff), the header is read without
 * touching pixels (probe, where the pixel limit is enforced), and decode may
 * return a smaller picture than stored when the caller needs less (JPEG's
 * DCT-domain scaling). Decoders return the picture as stored; orientation is
 * applied by i2v__decode() so that every format shares one implementation.
 */
#ifndef I2V_DECODE_H
#define I2V_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

typedef struct i2v_probe {
    int width, height; /* as stored, before orientation */
    int orientation;   /* EXIF 1..8; 1 when absent or applied by the codec */
} i2v_probe;

typedef struct i2v_decoder {
    const char *name; /* "jpeg", "png", "webp", "heic" */
    /* 1 when the first bytes belong to this format. */
    int (*sniff)(const uint8_t *data, size_t len);
    /* Reads the header only. */
    int (*probe)(const uint8_t *data, size_t len, i2v_probe *info, i2v_error *err);
    /* Decodes to RGB, at least min_w x min_h when the stored size allows
     * (as stored, before orientation). 0 leaves that side unconstrained;
     * both 0 means full size. */
    int (*decode)(const uint8_t *data, size_t len, int min_w, int min_h, i2v_rgb *out,
                  i2v_error *err);
} i2v_decoder;

extern const i2v_decoder i2v__decoder_jpeg;
extern const i2v_decoder i2v__decoder_png;
extern const i2v_decoder i2v__decoder_webp;
extern const i2v_decoder i2v__decoder_heic;

/* The decoder whose sniff accepts the bytes, or NULL. */
const i2v_decoder *i2v__decoder_find(const uint8_t *data, size_t len);

/* Probe + limit check: fails with I2V_ELIMIT when width*height > max_pixels. */
int i2v__decode_probe(const i2v_decoder *dec, const uint8_t *data, size_t len, uint64_t max_pixels,
                      i2v_probe *info, i2v_error *err);

/* Decodes and orients: the result is upright and at least min_w x min_h
 * (in upright pixels) when the stored size allows. */
int i2v__decode(const i2v_decoder *dec, const uint8_t *data, size_t len, const i2v_probe *info,
                int min_w, int min_h, i2v_rgb *out, i2v_error *err);

/* EXIF orientation from a TIFF-structured EXIF blob (with or without the
 * "Exif\0\0" prefix); 1 when absent or unreadable. */
int i2v__exif_orientation(const uint8_t *exif, size_t len);

#endif
