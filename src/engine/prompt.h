/*
 * prompt.h - reading the plain-words prompt into motion settings. Words that
 * are not understood are ignored; the understanding is printable so that the
 * CLI and the logs can show what was taken from the prompt.
 */
#ifndef I2V_PROMPT_H
#define I2V_PROMPT_H

#include <stddef.h>

#include "i2v/i2v.h"

typedef enum { I2V_EASE_DEFAULT = 0, I2V_EASE_IN_OUT, I2V_EASE_LINEAR } i2v_easing;

typedef struct i2v_steer {
    double speed;            /* multiplies the move's amount: slow 0.6, fast 1.5; default 1 */
    double amount;           /* subtle 0.5, dramatic 1.7; default 1 */
    i2v_easing easing;       /* "constant speed", "linear" -> LINEAR; "ease" -> IN_OUT */
    int has_focus;           /* a direction such as "towards the left" was given */
    int focus_light;         /* "window", "light", "lamp": the brightest region */
    double focus_x, focus_y; /* 0..1 of the frame */
    int flat;                /* "2D", "2D camera", "no 3D": keep the 2D moves, even in a room */
} i2v_steer;

void i2v__steer_init(i2v_steer *s);
/* Parses prompt (may be NULL) into s. Never fails. */
void i2v__prompt_parse(const char *prompt, i2v_steer *s);
/* Human-readable summary, e.g. "speed=slow amount=default easing=linear focus=left". */
void i2v__steer_describe(const i2v_steer *s, char *buf, size_t len);

/* A phrase (space-separated words) and what it stands for. */
typedef struct i2v_phrase {
    const char *phrase;
    int value;
} i2v_phrase;

/* The value of the table's phrase that occurs earliest in prompt (whole
 * words; may be NULL), or fallback when none does. */
int i2v__phrase_first(const char *prompt, const i2v_phrase *table, size_t n, int fallback);

#endif
