/*
 * routes.h - what `i2v serve` answers: the API families it registers with
 * the HTTP server, in order, and the paths whose body is a photo. One list,
 * used by the CLI to start the server and by the tests that hold the
 * OpenAPI document against it.
 */
#ifndef I2V_ROUTES_H
#define I2V_ROUTES_H

#include "http_server.h"

/* The families (Image to Video API v1, Animation API v2, the native API,
 * the output files, uploaded photos, the OpenAPI document, the Developer
 * Space); *n gets their number. */
const i2v_api_family *const *i2v__serve_families(int *n);
/* Exact paths whose body is a file (--upload-max-bytes instead of
 * --body-max); *n gets their number. */
const char *const *i2v__serve_file_paths(int *n);

#endif
