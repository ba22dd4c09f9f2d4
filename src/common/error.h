/*
 * error.h - filling an i2v_error. Every layer returns 0 or a negative i2v_code;
 * the message for humans goes into the caller's i2v_error (which may be NULL).
 */
#ifndef I2V_ERROR_H
#define I2V_ERROR_H

#include "i2v/i2v.h"

/* Sets err (if not NULL) and returns code, so callers can `return i2v__err(...)`.
 * The first error wins: a later call does not overwrite an earlier message. */
int i2v__err(i2v_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void i2v__err_clear(i2v_error *err);

#endif
