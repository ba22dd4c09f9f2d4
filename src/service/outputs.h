/*
 * outputs.h - the output files as clients fetch them: GET/HEAD
 * /v/<32 hex>.mp4|.jpg, read from the blob store, with Range, ETag and
 * If-None-Match; a store that gives clients direct URLs is answered with a
 * redirect to one. Errors come in the shape of the family the route is
 * registered in.
 */
#ifndef I2V_OUTPUTS_H
#define I2V_OUTPUTS_H

#include "http_server.h"

#define I2V_OUTPUTS_PREFIX "/v/"
/* The routes to register: GET and HEAD under I2V_OUTPUTS_PREFIX. */
extern const i2v_route i2v__outputs_routes[1];

#endif
