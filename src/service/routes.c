/*
 * routes.c - the API families `i2v serve` registers (routes.h).
 */
#include "routes.h"

#include "api.h"
#include "openapi.h"
#include "outputs.h"
#include "uploads.h"
#include "web.h"

/* The output files answer errors in Animation API v2's shape. */
static const i2v_api_family outputs_family = {"outputs", I2V_OUTPUTS_PREFIX, i2v__v2_error,
                                              i2v__outputs_routes, 1};
/* Uploaded photos (their owner's preview) answer in the native API's shape. */
static const i2v_api_family uploads_family = {"uploads", I2V_UPLOADS_PREFIX, i2v__native_error,
                                              i2v__upload_routes, 1};
static const i2v_api_family *const families[] = {
    &i2v__v1_family, &i2v__v2_family,      &i2v__native_family, &outputs_family,
    &uploads_family, &i2v__openapi_family, &i2v__web_family};
/* Routes whose body is a photo. */
static const char *const file_paths[] = {I2V_UPLOADS_PATH};

const i2v_api_family *const *i2v__serve_families(int *n)
{
    *n = (int)(sizeof families / sizeof families[0]);
    return families;
}

const char *const *i2v__serve_file_paths(int *n)
{
    *n = (int)(sizeof file_paths / sizeof file_paths[0]);
    return file_paths;
}
