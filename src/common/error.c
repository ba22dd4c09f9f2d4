/* error.c - error strings and the i2v_error helper. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *i2v_strerror(int code)
{
    switch (code) {
    case I2V_OK:
        return "success";
    case I2V_EINVAL:
        return "invalid argument";
    case I2V_ENOMEM:
        return "out of memory";
    case I2V_EIO:
        return "input/output error";
    case I2V_EFORMAT:
        return "not a supported image format";
    case I2V_ECORRUPT:
        return "corrupt or truncated image";
    case I2V_ELIMIT:
        return "limit exceeded";
    case I2V_EENCODE:
        return "video encoding failed";
    case I2V_ECANCELLED:
        return "cancelled";
    case I2V_EINTERNAL:
        return "internal error";
    case I2V_ENOTFOUND:
        return "not found";
    case I2V_ECREDIT:
        return "not enough credits";
    case I2V_ELOST:
        return "lease lost";
    case I2V_EFETCH:
        return "fetch failed";
    case I2V_EDENIED:
        return "refused by policy";
    case I2V_EDB:
        return "job store error";
    case I2V_EDUPLICATE:
        return "idempotency key already used";
    case I2V_EUNAVAILABLE:
        return "temporarily unavailable, retry";
    case I2V_ESTATE:
        return "not allowed in this state";
    }
    return "unknown error";
}

void i2v__err_clear(i2v_error *err)
{
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
}

int i2v__err(i2v_error *err, int code, const char *fmt, ...)
{
    if (err && err->code == 0) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
