/*
 * fuzz_api.c - generate bodies of the three APIs: JSON parsing with the depth
 * limit, then every field's validation for Image to Video v1, Animation v2
 * and the native API's create, exactly as the server runs them before
 * anything is stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    json_t *body = i2v__api_parse((const char *)data, size, msg, sizeof msg);
    if (!body) {
        if (!msg[0]) abort(); /* every refusal names its reason */
        return 0;
    }
    i2v_gen *g = calloc(1, sizeof *g);
    if (!g) abort();
    for (int api = 1; api <= 3; api++) {
        memset(g, 0, sizeof *g);
        msg[0] = '\0';
        const int r = api == 1   ? i2v__v1_request(body, g, msg, sizeof msg)
                      : api == 2 ? i2v__v2_request(body, 20, g, msg, sizeof msg)
                                 : i2v__native_request(body, g, msg, sizeof msg);
        if (r != 0 && !msg[0]) abort();
        if (r == 0) {
            /* accepted: a sane generation */
            if (!g->image_url[0] || g->duration <= 0 || g->width <= 0 || g->height <= 0 ||
                g->price <= 0 || strlen(g->image_url) > I2V_URL_MAX)
                abort();
        }
    }
    free(g);
    json_decref(body);
    return 0;
}
