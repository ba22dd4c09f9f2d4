/*
 * openapi.h - GET /openapi.json: the OpenAPI 3.1 document of every route
 * `i2v serve` answers (docs/openapi.json, embedded in the binary at build
 * time by scripts/embed.py), served with "servers" set to the service's
 * public URL and info.version to this build's, a strong ETag and 304 on
 * If-None-Match. Its own API family, prefix "/openapi.json"; errors (405)
 * in the native API's shape.
 */
#ifndef I2V_OPENAPI_H
#define I2V_OPENAPI_H

#include <stddef.h>

#include "http_server.h"

#define I2V_OPENAPI_PATH "/openapi.json"

/* The document as embedded (NUL-terminated; len without the NUL). */
const char *i2v__openapi_document(size_t *len);

extern const i2v_api_family i2v__openapi_family;

#endif
