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

#endif
