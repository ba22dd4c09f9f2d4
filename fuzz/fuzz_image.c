/*
 * fuzz_image.c - image header probing and decoding for every format i2v
 * reads (JPEG, PNG, WebP, HEIC): the bytes are opened as a photo under a
 * 4 MP limit and, when the header passes, decoded at a small size and at
 * full size. No input may crash, leak, or decode to a size other than the
 * header's.
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/image.h"
#include "engine/photo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    i2v_limits lim;
    i2v_limits_init(&lim);
    lim.max_pixels = 4u << 20;
    i2v_photo *p = NULL;
    i2v_error err = {0};
    if (i2v_photo_open_memory(&p, data, size, &lim, &err) != 0) {
        if (!err.message[0]) abort();
        return 0;
    }
    const int w = i2v_photo_width(p), h = i2v_photo_height(p);
    if (w <= 0 || h <= 0 || (uint64_t)w * h > lim.max_pixels) abort();
    const int sizes[2][2] = {{64, 64}, {0, 0}};
    for (int i = 0; i < 2; i++) {
        i2v_rgb rgb = {0};
        i2v_error e = {0};
        if (i2v__photo_decode(p, sizes[i][0], sizes[i][1], &rgb, &e) == 0) {
            if (rgb.width <= 0 || rgb.height <= 0 || rgb.width > w || rgb.height > h) abort();
            if (sizes[i][0] == 0 && (rgb.width != w || rgb.height != h)) abort();
            i2v__rgb_release(&rgb);
        } else if (!e.message[0]) {
            abort();
        }
    }
    i2v_photo_free(&p);
    return 0;
}
