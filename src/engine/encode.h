/*
 * encode.h - video encoders behind one small interface.
 *
 * The renderer asks the encoder for a writable frame, draws into its YUV 4:2:0
 * planes directly (no copy) and submits it. encode_libav.c implements this
 * with libavcodec/libx264 and libavformat (MP4, +faststart).
 */
#ifndef I2V_ENCODE_H
#define I2V_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "i2v/i2v.h"

typedef struct i2v_enc_params {
    const char *path; /* output file */
    int width, height, fps;
    int crf;
    const char *preset; /* x264 preset, e.g. "veryfast", "medium" */
    /* Optional soundtrack: interleaved stereo floats at audio_rate, encoded
     * as AAC alongside the frames; NULL for none. Borrowed until finish. */
    const float *audio;
    size_t audio_frames;
    int audio_rate;
} i2v_enc_params;

typedef struct i2v_yuv {
    uint8_t *data[3];
    int linesize[3];
    int width, height;
} i2v_yuv;

typedef struct i2v_encoder_vt {
    const char *name;
    int (*open)(void **state, const i2v_enc_params *p, i2v_error *err);
    /* A writable frame for the next picture; valid until submit. */
    int (*frame)(void *state, i2v_yuv *f, i2v_error *err);
    /* Encodes the frame last returned by frame(). */
    int (*submit)(void *state, i2v_error *err);
    /* Flushes delayed frames and writes the trailer. */
    int (*finish)(void *state, i2v_error *err);
    void (*close)(void **state);
} i2v_encoder_vt;

extern const i2v_encoder_vt i2v__encoder_libav;

/* Writes packed RGB as a JPEG (quality 0..100) to path. */
int i2v__write_jpeg(const char *path, const uint8_t *rgb, int w, int h, int quality,
                    i2v_error *err);

#endif
