/*
 * price.h - the one price table. Credits for a video depend on the model,
 * audio, resolution and duration (SPEC.md); both APIs charge from here.
 */
#ifndef I2V_PRICE_H
#define I2V_PRICE_H

typedef enum { I2V_RES_480P, I2V_RES_720P, I2V_RES_1080P } i2v_resolution;

/* Parses "480p" | "720p" | "1080p" (exact). Returns 0 or -1. */
int i2v__resolution_parse(const char *s, i2v_resolution *out);
const char *i2v__resolution_name(i2v_resolution r);
/* Landscape size of a resolution: 854x480, 1280x720, 1920x1080. */
void i2v__resolution_size(i2v_resolution r, int *w, int *h);
/* Credits for one video; duration 5 or 10 (other durations scale per 5 s,
 * rounded up). base: 0 Flash, 1 Base; audio only with Base. */
int i2v__price(int base, int audio, i2v_resolution r, int duration);
/* Credits for any output size w x h (the native API's "size" and
 * "format"): the tier whose pixel budget covers w*h -- 480p up to 854x480
 * (409,920 px), 720p up to 1280x768 (983,040 px: the seed's 1280x720 and
 * Animation v2's 1280x768), 1080p up to 1920x1080 (2,073,600 px); a larger
 * size pays the 1080p price once per 2,073,600 px started. Durations per
 * 5 s started, as i2v__price. */
int i2v__price_size(int base, int audio, int w, int h, int duration);

#endif
