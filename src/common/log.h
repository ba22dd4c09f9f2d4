/*
 * log.h - one line per event on stderr, as key=value fields:
 *   ts=2026-11-21T10:00:00.123Z level=info event=request method=GET status=200 ...
 * Values with spaces or quotes are written quoted with escapes by i2v__log_str.
 * Lines are written with one write(2) so threads never interleave them.
 */
#ifndef I2V_LOG_H
#define I2V_LOG_H

#include <stddef.h>

typedef enum { I2V_LOG_DEBUG, I2V_LOG_INFO, I2V_LOG_WARN, I2V_LOG_ERROR } i2v_log_level;

void i2v__log_set_level(i2v_log_level min);
/* fmt continues the line after "event=NAME"; it should start with a space. */
void i2v__log(i2v_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes s as a log value into buf: bare when safe, else quoted and escaped,
 * cut to fit. Returns buf. */
const char *i2v__log_str(char *buf, size_t len, const char *s);
/* Seconds on the monotonic clock, for durations in log lines. */
double i2v__mono(void);

#endif
