/*
 * photo.h - internal side of i2v_photo: the encoded bytes, their decoder and
 * header, decoded on demand at the size a consumer needs.
 */
#ifndef I2V_PHOTO_H
#define I2V_PHOTO_H

#include "decode.h"

struct i2v_photo {
    uint8_t *data; /* encoded bytes, owned */
    size_t len;
    const i2v_decoder *decoder;
    i2v_probe probe;
    int width, height; /* upright */
};

/* Decodes upright RGB covering at least min_w x min_h upright pixels (0: full). */
int i2v__photo_decode(const i2v_photo *photo, int min_w, int min_h, i2v_rgb *out, i2v_error *err);

#endif
