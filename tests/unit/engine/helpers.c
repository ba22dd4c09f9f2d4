/* helpers.c - see helpers.h. */
#include "helpers.h"

#include <libexif/exif-data.h>
#include <libheif/heif.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <webp/encode.h>
#include <webp/mux.h>

uint8_t *pattern_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *d = p + ((size_t)y * w + x) * 3;
            const int right = x >= w / 2, bottom = y >= h / 2;
            const uint8_t c[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
            memcpy(d, c[bottom * 2 + right], 3);
        }
    return p;
}

/*
 * EXIF: orientation n says where the stored rows and columns go. Stored pixel
 * (sx, sy) for each n, written from the standard's table:
 * 1 identity; 2 stored is mirrored left-right; 3 rotated 180; 4 mirrored
 * top-bottom; 5 transposed; 6 stored is the upright image rotated 90 degrees
 * counter-clockwise (display rotates it clockwise); 7 transverse; 8 stored is
 * rotated 90 degrees clockwise.
 */
uint8_t *stored_for_orientation(const uint8_t *u, int w, int h, int n, int *sw, int *sh)
{
    const int swap = n >= 5;
    *sw = swap ? h : w;
    *sh = swap ? w : h;
    uint8_t *s = malloc((size_t)w * h * 3);
    for (int y = 0; y < *sh; y++)
        for (int x = 0; x < *sw; x++) {
            int ux, uy; /* upright pixel shown from stored (x, y) */
            switch (n) {
            case 2:
                ux = w - 1 - x;
                uy = y;
                break;
            case 3:
                ux = w - 1 - x;
                uy = h - 1 - y;
                break;
            case 4:
                ux = x;
                uy = h - 1 - y;
                break;
            case 5:
                ux = y;
                uy = x;
                break;
            case 6:
                ux = w - 1 - y;
                uy = x;
                break;
            case 7:
                ux = w - 1 - y;
                uy = h - 1 - x;
                break;
            case 8:
                ux = y;
                uy = h - 1 - x;
                break;
            default:
                ux = x;
                uy = y;
                break;
            }
            memcpy(s + ((size_t)y * *sw + x) * 3, u + ((size_t)uy * w + ux) * 3, 3);
        }
    return s;
}

static buf exif_blob(int orientation)
{
    buf b = {0};
    ExifData *ed = exif_data_new();
    exif_data_set_byte_order(ed, EXIF_BYTE_ORDER_INTEL);
    ExifEntry *e = exif_entry_new();
    exif_content_add_entry(ed->ifd[EXIF_IFD_0], e);
    exif_entry_initialize(e, EXIF_TAG_ORIENTATION);
    exif_set_short(e->data, EXIF_BYTE_ORDER_INTEL, (ExifShort)orientation);
    exif_entry_unref(e);
    unsigned char *d = NULL;
    unsigned int len = 0;
    exif_data_save_data(ed, &d, &len); /* starts with "Exif\0\0" */
    exif_data_unref(ed);
    b.data = d;
    b.len = len;
    return b;
}

buf make_jpeg(const uint8_t *rgb, int w, int h, int subsamp, int progressive, int orientation)
{
    buf out = {0};
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    const int ss[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY};
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &len, ss[subsamp], 92,
                    progressive ? TJFLAG_PROGRESSIVE : 0) != 0) {
        fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
        abort();
    }
    tjDestroy(tj);
    if (orientation) {
        buf ex = exif_blob(orientation);
        out.len = len + 4 + ex.len;
        out.data = malloc(out.len);
        memcpy(out.data, jpg, 2); /* SOI */
        out.data[2] = 0xFF;
        out.data[3] = 0xE1;
        out.data[4] = (uint8_t)((ex.len + 2) >> 8);
        out.data[5] = (uint8_t)((ex.len + 2) & 0xFF);
        memcpy(out.data + 6, ex.data, ex.len);
        memcpy(out.data + 6 + ex.len, jpg + 2, len - 2);
        free(ex.data);
    } else {
        out.len = len;
        out.data = malloc(len);
        memcpy(out.data, jpg, len);
    }
    tjFree(jpg);
    return out;
}

buf make_jpeg_cmyk(const uint8_t *cmyk, int w, int h)
{
    buf out = {0};
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    if (tjCompress2(tj, cmyk, w, 0, h, TJPF_CMYK, &jpg, &len, TJSAMP_444, 95, 0) != 0) {
        fprintf(stderr, "tjCompress2 CMYK: %s\n", tjGetErrorStr2(tj));
        abort();
    }
    tjDestroy(tj);
    out.data = malloc(len);
    out.len = len;
    memcpy(out.data, jpg, len);
    tjFree(jpg);
    return out;
}

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
} membuf;

static void png_write_mem(png_structp png, png_bytep d, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, d, n);
    m->len += n;
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

buf make_png(const uint8_t *rgba, int w, int h, int color_type, int bit_depth, int orientation)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &m, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color palette[256];
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        /* A palette of the distinct colours: the test patterns use few. */
        int n = 0;
        for (int i = 0; i < w * h && n < 256; i++) {
            const uint8_t *p = rgba + 4 * i;
            int found = 0;
            for (int k = 0; k < n; k++)
                found |=
                    palette[k].red == p[0] && palette[k].green == p[1] && palette[k].blue == p[2];
            if (!found) palette[n++] = (png_color){p[0], p[1], p[2]};
        }
        png_set_PLTE(png, info, palette, n);
    }
    if (orientation) {
        buf ex = exif_blob(orientation);
        png_set_eXIf_1(png, info, (png_uint_32)(ex.len - 6), ex.data + 6);
        free(ex.data);
    }
    png_write_info(png, info);
    const int ch = color_type == PNG_COLOR_TYPE_RGBA         ? 4
                   : color_type == PNG_COLOR_TYPE_RGB        ? 3
                   : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                             : 1;
    const int bpc = bit_depth == 16 ? 2 : 1;
    uint8_t *row = malloc((size_t)w * ch * bpc);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = rgba + ((size_t)y * w + x) * 4;
            uint8_t v[4];
            if (color_type == PNG_COLOR_TYPE_PALETTE) {
                int k = 0;
                while (!(palette[k].red == p[0] && palette[k].green == p[1] &&
                         palette[k].blue == p[2]))
                    k++;
                v[0] = (uint8_t)k;
            } else if (color_type == PNG_COLOR_TYPE_GRAY ||
                       color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
                v[0] = p[0];
                v[1] = p[3];
            } else {
                memcpy(v, p, 4);
            }
            for (int c = 0; c < ch; c++) {
                if (bpc == 2) {
                    row[(x * ch + c) * 2] = v[c];
                    row[(x * ch + c) * 2 + 1] = v[c]; /* 16-bit: v * 257 */
                } else {
                    row[x * ch + c] = v[c];
                }
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    return (buf){m.data, m.len};
}

buf make_webp(const uint8_t *rgba, int w, int h, int alpha, int lossless)
{
    uint8_t *out = NULL;
    size_t len;
    if (alpha)
        len = lossless ? WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out)
                       : WebPEncodeRGBA(rgba, w, h, w * 4, 90, &out);
    else {
        uint8_t *rgb = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h; i++)
            memcpy(rgb + 3 * i, rgba + 4 * i, 3);
        len = lossless ? WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out)
                       : WebPEncodeRGB(rgb, w, h, w * 3, 90, &out);
        free(rgb);
    }
    if (!len) abort();
    buf b = {malloc(len), len};
    memcpy(b.data, out, len);
    WebPFree(out);
    return b;
}

buf make_webp_oriented(const uint8_t *rgba, int w, int h, int orientation)
{
    buf plain = make_webp(rgba, w, h, 0, 1);
    buf ex = exif_blob(orientation);
    WebPData image = {plain.data, plain.len}, exif = {ex.data + 6, ex.len - 6}, out = {0};
    WebPMux *mux = WebPMuxNew();
    if (WebPMuxSetImage(mux, &image, 1) != WEBP_MUX_OK ||
        WebPMuxSetChunk(mux, "EXIF", &exif, 1) != WEBP_MUX_OK ||
        WebPMuxAssemble(mux, &out) != WEBP_MUX_OK)
        abort();
    buf b = {malloc(out.size), out.size};
    memcpy(b.data, out.bytes, out.size);
    WebPDataClear(&out);
    WebPMuxDelete(mux);
    free(plain.data);
    free(ex.data);
    return b;
}

static struct heif_error heif_write_mem(struct heif_context *ctx, const void *data, size_t size,
                                        void *user)
{
    (void)ctx;
    buf *b = user;
    b->data = realloc(b->data, b->len + size);
    memcpy(b->data + b->len, data, size);
    b->len += size;
    struct heif_error ok = {heif_error_Ok, heif_suberror_Unspecified, "ok"};
    return ok;
}

buf make_heic(const uint8_t *rgb, int w, int h)
{
    buf b = {0};
    struct heif_context *ctx = heif_context_alloc();
    struct heif_encoder *enc = NULL;
    struct heif_image *img = NULL;
    if (heif_context_get_encoder_for_format(ctx, heif_compression_HEVC, &enc).code) {
        fprintf(stderr, "libheif has no HEVC encoder\n");
        abort();
    }
    heif_encoder_set_lossy_quality(enc, 90);
    heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &img);
    heif_image_add_plane(img, heif_channel_interleaved, w, h, 8);
    int stride;
    uint8_t *p = heif_image_get_plane(img, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; y++)
        memcpy(p + (size_t)y * stride, rgb + (size_t)y * w * 3, (size_t)w * 3);
    if (heif_context_encode_image(ctx, img, enc, NULL, NULL).code) abort();
    struct heif_writer writer = {1, heif_write_mem};
    heif_context_write(ctx, &writer, &b);
    heif_image_release(img);
    heif_encoder_release(enc);
    heif_context_free(ctx);
    return b;
}

void box_mean(const uint8_t *rgb, int w, int x0, int y0, int bw, int bh, double out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (int y = y0; y < y0 + bh; y++)
        for (int x = x0; x < x0 + bw; x++)
            for (int c = 0; c < 3; c++)
                out[c] += rgb[((size_t)y * w + x) * 3 + c];
    for (int c = 0; c < 3; c++)
        out[c] /= (double)bw * bh;
}
