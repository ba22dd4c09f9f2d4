/*
 * decode_png.c - PNG through libpng: 1..16-bit, palette, grey, tRNS and alpha
 * (composited over white), interlaced. Chunk counts and chunk sizes are capped
 * so that a file of thousands of chunks cannot exhaust memory.
 */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "common/error.h"

#define PNG_MAX_DIM 65535u
#define PNG_MAX_CHUNKS 1000u           /* ancillary chunks kept in memory */
#define PNG_MAX_CHUNK_BYTES (8u << 20) /* one ancillary chunk */

static int png_sniff(const uint8_t *d, size_t n)
{
    return n >= 8 && png_sig_cmp(d, 0, 8) == 0;
}

typedef struct memsrc {
    const uint8_t *data;
    size_t len, pos;
    char msg[160];
} memsrc;

static void mem_read(png_structp png, png_bytep out, png_size_t n)
{
    memsrc *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "file is truncated");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static void on_error(png_structp png, png_const_charp msg)
{
    memsrc *s = png_get_io_ptr(png);
    if (s) snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_structp open_png(memsrc *src, png_infop *info)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, on_error, on_warning);
    if (!png) return NULL;
    *info = png_create_info_struct(png);
    if (!*info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    png_set_read_fn(png, src, mem_read);
    png_set_user_limits(png, PNG_MAX_DIM, PNG_MAX_DIM);
    png_set_chunk_cache_max(png, PNG_MAX_CHUNKS);
    png_set_chunk_malloc_max(png, PNG_MAX_CHUNK_BYTES);
    return png;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The header is read by hand: the size from IHDR (which must come first) and
 * the orientation from an eXIf chunk found by walking the chunk list, which
 * also refuses more than PNG_MAX_CHUNKS ancillary chunks (or 100 times as
 * many in all) and a chunk longer than the rest of the file (a 72-byte file
 * ending in a chunk header that claims 1.8 GB made libpng allocate and clear
 * all of it). Nothing is allocated, so a header
 * claiming a huge size or a file of thousands of chunks costs nothing here; libpng checks the rest
 * (CRCs, ranges) when decoding.
 */
static int png_probe(const uint8_t *d, size_t n, i2v_probe *info, i2v_error *err)
{
    if (n < 33 || memcmp(d + 12, "IHDR", 4) != 0 || be32(d + 8) != 13)
        return i2v__err(err, I2V_ECORRUPT, "PNG header is invalid: no IHDR chunk");
    const uint32_t w = be32(d + 16), h = be32(d + 20);
    if (w == 0 || h == 0 || w > PNG_MAX_DIM || h > PNG_MAX_DIM) {
        if (w > 0 && h > 0)
            return i2v__err(err, I2V_ELIMIT, "PNG header claims %ux%u, above the %u limit", w, h,
                            PNG_MAX_DIM);
        return i2v__err(err, I2V_ECORRUPT, "PNG header gives an empty size");
    }
    info->width = (int)w;
    info->height = (int)h;
    size_t pos = 8;
    unsigned ancillary = 0;
    for (unsigned count = 0; pos + 8 <= n; count++) {
        const uint32_t len = be32(d + pos);
        /* libpng allocates what a chunk claims as soon as it has read the
         * chunk's 8-byte header: a length beyond the file's end is refused
         * here, also in a last chunk cut short after its header */
        if ((size_t)len + 12 > n - pos)
            return i2v__err(err, I2V_ECORRUPT,
                            "PNG is truncated: the chunk at byte %zu claims %u bytes, more than "
                            "the file holds",
                            pos, len);
        if (d[pos + 4] & 0x20) ancillary++; /* lower-case first letter */
        if (ancillary > PNG_MAX_CHUNKS)
            return i2v__err(err, I2V_ELIMIT,
                            "PNG has more than %u ancillary chunks, above the limit",
                            PNG_MAX_CHUNKS);
        if (count >= 100 * PNG_MAX_CHUNKS)
            return i2v__err(err, I2V_ELIMIT, "PNG has more than %u chunks, above the limit",
                            100 * PNG_MAX_CHUNKS);
        if (memcmp(d + pos + 4, "eXIf", 4) == 0 && info->orientation == 1)
            info->orientation = i2v__exif_orientation(d + pos + 8, len);
        if (memcmp(d + pos + 4, "IEND", 4) == 0) break;
        pos += 12 + (size_t)len;
    }
    return 0;
}

static int png_decode(const uint8_t *d, size_t n, int min_w, int min_h, i2v_rgb *out,
                      i2v_error *err)
{
    (void)min_w;
    (void)min_h;
    memsrc src = {d, n, 0, ""};
    png_infop pinfo = NULL;
    png_structp png = open_png(&src, &pinfo);
    if (!png) return i2v__err(err, I2V_ENOMEM, "cannot start the PNG decoder");
    /* Modified after setjmp, so volatile. */
    uint8_t *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    volatile int rc = 0;
    out->pixels = NULL;
    if (setjmp(png_jmpbuf(png))) {
        rc = i2v__err(err, I2V_ECORRUPT, "PNG data is corrupt or truncated: %s", src.msg);
        goto out;
    }
    png_read_info(png, pinfo);
    png_uint_32 w = png_get_image_width(png, pinfo), h = png_get_image_height(png, pinfo);
    int ctype = png_get_color_type(png, pinfo);
    png_set_expand(png); /* palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha */
    png_set_scale_16(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER); /* always RGBA: one code path */
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != (size_t)w * 4) png_error(png, "unexpected row layout");
    rc = i2v__rgb_alloc(out, (int)w, (int)h, err);
    if (rc) goto out;
    rgba = malloc((size_t)w * h * 4);
    rows = malloc(sizeof(png_bytep) * h);
    if (!rgba || !rows) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory decoding a %ux%u PNG", w, h);
        goto out;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = rgba + (size_t)y * w * 4;
    png_read_image(png, rows);
    i2v__rgba_over_white(rgba, out->pixels, (size_t)w * h);
out:
    if (rc) i2v__rgb_release(out);
    free(rows);
    free(rgba);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return rc;
}

const i2v_decoder i2v__decoder_png = {"png", png_sniff, png_probe, png_decode};
