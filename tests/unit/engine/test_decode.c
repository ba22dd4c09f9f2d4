/* test_decode.c - every format and orientation, sniffing, limits, scaling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <png.h>
#include <math.h>
#include <stdlib.h>
#include <zlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/photo.h"

/* Opens b and decodes it at full size; fails the test on any error. */
static i2v_rgb decode_full(buf b)
{
    i2v_photo *p = NULL;
    i2v_error err = {0};
    i2v_rgb rgb = {0};
    if (i2v_photo_open_memory(&p, b.data, b.len, NULL, &err) ||
        i2v__photo_decode(p, 0, 0, &rgb, &err))
        fail_msg("decode: %s", err.message);
    i2v_photo_free(&p);
    return rgb;
}

/* Decodes b fully and checks the upright quadrant colours of pattern_rgb. */
static void check_pattern(buf b, int w, int h, const char *fmt, double tol)
{
    i2v_photo *p = NULL;
    i2v_error err = {0};
    int rc = i2v_photo_open_memory(&p, b.data, b.len, NULL, &err);
    if (rc) fail_msg("open %s: %s", fmt, err.message);
    assert_string_equal(i2v_photo_format(p), fmt);
    assert_int_equal(i2v_photo_width(p), w);
    assert_int_equal(i2v_photo_height(p), h);
    i2v_rgb rgb;
    assert_int_equal(i2v__photo_decode(p, 0, 0, &rgb, &err), 0);
    assert_int_equal(rgb.width, w);
    assert_int_equal(rgb.height, h);
    const double want[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    for (int q = 0; q < 4; q++) {
        double m[3];
        const int bx = (q & 1) ? w / 2 + w / 8 : w / 8, by = (q & 2) ? h / 2 + h / 8 : h / 8;
        box_mean(rgb.pixels, w, bx, by, w / 4, h / 4, m);
        for (int c = 0; c < 3; c++)
            if (m[c] < want[q][c] - tol || m[c] > want[q][c] + tol)
                fail_msg("%s quadrant %d channel %d: %.1f, want %.0f", fmt, q, c, m[c], want[q][c]);
    }
    i2v__rgb_release(&rgb);
    i2v_photo_free(&p);
    assert_null(p);
}

static uint8_t *to_rgba(const uint8_t *rgb, int w, int h, uint8_t alpha)
{
    uint8_t *o = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++) {
        memcpy(o + 4 * i, rgb + 3 * i, 3);
        o[4 * i + 3] = alpha;
    }
    return o;
}

static void test_jpeg_subsampling_and_progressive(void **state)
{
    (void)state;
    uint8_t *u = pattern_rgb(96, 64);
    for (int ss = SUB_444; ss <= SUB_420; ss++)
        for (int prog = 0; prog <= 1; prog++) {
            buf b = make_jpeg(u, 96, 64, ss, prog, 0);
            check_pattern(b, 96, 64, "jpeg", 12);
            free(b.data);
        }
    free(u);
}

static void test_jpeg_grey(void **state)
{
    (void)state;
    uint8_t *u = pattern_rgb(64, 64);
    buf b = make_jpeg(u, 64, 64, SUB_GRAY, 0, 0);
    i2v_rgb rgb = decode_full(b);
    double m[3];
    box_mean(rgb.pixels, 64, 40, 40, 16, 16, m); /* white quadrant */
    assert_true(m[0] > 245 && m[1] > 245 && m[2] > 245);
    box_mean(rgb.pixels, 64, 8, 40, 16, 16, m); /* blue -> dark grey, R=G=B */
    assert_true(m[0] < 60 && fabs(m[0] - m[1]) < 1 && fabs(m[1] - m[2]) < 1);
    i2v__rgb_release(&rgb);
    free(b.data);
    free(u);
}

static void test_jpeg_cmyk(void **state)
{
    (void)state;
    /* Adobe convention: 255 = no ink. Left half no ink (white), right half
     * full cyan ink only (C=0 stored) -> R 0, G and B 255. */
    const int w = 32, h = 16;
    uint8_t *cmyk = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++) {
        const int right = (i % w) >= w / 2;
        cmyk[4 * i + 0] = right ? 0 : 255;
        cmyk[4 * i + 1] = 255;
        cmyk[4 * i + 2] = 255;
        cmyk[4 * i + 3] = 255;
    }
    buf b = make_jpeg_cmyk(cmyk, w, h);
    i2v_photo *p = NULL;
    i2v_error err = {0};
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, NULL, &err), 0);
    i2v_rgb rgb;
    assert_int_equal(i2v__photo_decode(p, 0, 0, &rgb, &err), 0);
    double m[3];
    box_mean(rgb.pixels, w, 2, 2, 8, 12, m);
    assert_true(m[0] > 245 && m[1] > 245 && m[2] > 245);
    box_mean(rgb.pixels, w, 22, 2, 8, 12, m);
    assert_true(m[0] < 12 && m[1] > 240 && m[2] > 240);
    i2v__rgb_release(&rgb);
    i2v_photo_free(&p);
    free(b.data);
    free(cmyk);
}

static void test_jpeg_orientations(void **state)
{
    (void)state;
    const int w = 96, h = 64;
    uint8_t *u = pattern_rgb(w, h);
    for (int n = 1; n <= 8; n++) {
        int sw, sh;
        uint8_t *s = stored_for_orientation(u, w, h, n, &sw, &sh);
        buf b = make_jpeg(s, sw, sh, SUB_444, 0, n);
        i2v_photo *p = NULL;
        assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, NULL, NULL), 0);
        assert_int_equal(i2v_photo_orientation(p), n);
        i2v_photo_free(&p);
        check_pattern(b, w, h, "jpeg", 12);
        free(b.data);
        free(s);
    }
    free(u);
}

static void test_png_variants(void **state)
{
    (void)state;
    const int w = 64, h = 48;
    uint8_t *u = pattern_rgb(w, h);
    uint8_t *rgba = to_rgba(u, w, h, 255);
    const int types[] = {PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA, PNG_COLOR_TYPE_PALETTE};
    for (size_t t = 0; t < 3; t++)
        for (int depth = 8; depth <= 16; depth += 8) {
            if (types[t] == PNG_COLOR_TYPE_PALETTE && depth == 16)
                continue; /* palettes are at most 8-bit in PNG */
            buf b = make_png(rgba, w, h, types[t], depth, 0);
            check_pattern(b, w, h, "png", 0.5);
            free(b.data);
        }
    /* Grey, 8 and 16 bit: R = G = B. */
    for (int depth = 8; depth <= 16; depth += 8) {
        buf b = make_png(rgba, w, h, PNG_COLOR_TYPE_GRAY, depth, 0);
        i2v_rgb rgb = decode_full(b);
        double m[3];
        box_mean(rgb.pixels, w, 0, 0, 8, 8, m); /* red's R channel as grey = 255 */
        assert_true(m[0] == 255 && m[1] == 255 && m[2] == 255);
        box_mean(rgb.pixels, w, w - 8, 0, 8, 8, m); /* green's R channel = 0 */
        assert_true(m[0] == 0 && m[1] == 0 && m[2] == 0);
        i2v__rgb_release(&rgb);
        free(b.data);
    }
    free(rgba);
    free(u);
}

static void test_png_alpha_over_white(void **state)
{
    (void)state;
    const int w = 16, h = 16;
    uint8_t *rgba = malloc(w * h * 4);
    for (int i = 0; i < w * h; i++) {
        rgba[4 * i] = 0, rgba[4 * i + 1] = 0, rgba[4 * i + 2] = 0;
        rgba[4 * i + 3] = (i % w) < w / 2 ? 0 : 128; /* transparent | half black */
    }
    buf b = make_png(rgba, w, h, PNG_COLOR_TYPE_RGBA, 8, 0);
    i2v_rgb rgb = decode_full(b);
    assert_int_equal(rgb.pixels[0], 255);           /* transparent -> white */
    assert_int_equal(rgb.pixels[(w - 1) * 3], 127); /* half black over white */
    i2v__rgb_release(&rgb);
    free(b.data);
    free(rgba);
}

static void test_webp(void **state)
{
    (void)state;
    const int w = 64, h = 48;
    uint8_t *u = pattern_rgb(w, h);
    uint8_t *rgba = to_rgba(u, w, h, 255);
    for (int lossless = 0; lossless <= 1; lossless++)
        for (int alpha = 0; alpha <= 1; alpha++) {
            buf b = make_webp(rgba, w, h, alpha, lossless);
            check_pattern(b, w, h, "webp", lossless ? 0.5 : 16);
            free(b.data);
        }
    free(rgba);
    free(u);
}

/* PNG (eXIf chunk) and WebP (EXIF chunk) carry orientation too: stored images
 * built from the EXIF definitions come out upright. */
static void test_png_and_webp_orientation(void **state)
{
    (void)state;
    const int w = 64, h = 32;
    uint8_t *u = pattern_rgb(w, h);
    for (int n = 2; n <= 8; n++)
        for (int webp = 0; webp <= 1; webp++) {
            int sw, sh;
            uint8_t *s = stored_for_orientation(u, w, h, n, &sw, &sh);
            uint8_t *rgba = to_rgba(s, sw, sh, 255);
            buf b = webp ? make_webp_oriented(rgba, sw, sh, n)
                         : make_png(rgba, sw, sh, PNG_COLOR_TYPE_RGB, 8, n);
            check_pattern(b, w, h, webp ? "webp" : "png", 0.5);
            free(b.data);
            free(rgba);
            free(s);
        }
    free(u);
}

static void test_heic(void **state)
{
    (void)state;
    const int w = 128, h = 96;
    uint8_t *u = pattern_rgb(w, h);
    buf b = make_heic(u, w, h);
    check_pattern(b, w, h, "heic", 20);
    free(b.data);
    free(u);
}

static void test_sniff_by_bytes_not_name(void **state)
{
    (void)state;
    uint8_t *u = pattern_rgb(32, 32);
    buf b = make_jpeg(u, 32, 32, SUB_420, 0, 0);
    char path[] = "/tmp/i2v-sniff-XXXXXX.png"; /* a JPEG named .png */
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    i2v_photo *p = NULL;
    assert_int_equal(i2v_photo_open_file(&p, path, NULL, NULL), 0);
    assert_string_equal(i2v_photo_format(p), "jpeg");
    i2v_photo_free(&p);
    remove(path);
    free(b.data);
    free(u);
}

static void test_not_an_image(void **state)
{
    (void)state;
    const char text[] = "<html>this is not an image</html>";
    i2v_photo *p = NULL;
    i2v_error err = {0};
    assert_int_equal(i2v_photo_open_memory(&p, text, sizeof text, NULL, &err), I2V_EFORMAT);
    assert_null(p);
    assert_non_null(strstr(err.message, "not an image"));
    i2v_error err2 = {0};
    assert_int_equal(i2v_photo_open_file(&p, "/nonexistent/photo.jpg", NULL, &err2), I2V_EIO);
    assert_non_null(strstr(err2.message, "/nonexistent/photo.jpg"));
}

/* A PNG header claiming 60000x60000 (3.6 GP): refused from the header alone. */
static void test_pixel_limit_from_header(void **state)
{
    (void)state;
    static const uint8_t hdr[] = {0x89, 'P',  'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0,    0, 0,
                                  13,   'I',  'H', 'D', 'R',  0,    0,    0xEA, 0x60, 0, 0,
                                  0xEA, 0x60, 8,   2,   0,    0,    0,    0,    0,    0, 0};
    uint8_t png[sizeof hdr];
    memcpy(png, hdr, sizeof hdr);
    /* CRC of the IHDR chunk (type + data). */
    uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
    png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16);
    png[31] = (uint8_t)(crc >> 8), png[32] = (uint8_t)crc;
    i2v_photo *p = NULL;
    i2v_error err = {0};
    int rc = i2v_photo_open_memory(&p, png, sizeof png, NULL, &err);
    if (rc != I2V_ELIMIT) fail_msg("rc %d: %s", rc, err.message);
    assert_non_null(strstr(err.message, "limit"));
    /* A configurable limit applies to real images too. */
    uint8_t *u = pattern_rgb(100, 100);
    buf b = make_jpeg(u, 100, 100, SUB_420, 0, 0);
    i2v_limits lim;
    i2v_limits_init(&lim);
    lim.max_pixels = 9999;
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, &lim, NULL), I2V_ELIMIT);
    lim.max_pixels = 10000;
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, &lim, NULL), 0);
    i2v_photo_free(&p);
    lim.max_bytes = b.len - 1;
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, &lim, NULL), I2V_ELIMIT);
    free(b.data);
    free(u);
}

static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    uint8_t *u = pattern_rgb(64, 64);
    uint8_t *rgba = to_rgba(u, 64, 64, 255);
    buf bufs[3] = {make_jpeg(u, 64, 64, SUB_420, 0, 0),
                   make_png(rgba, 64, 64, PNG_COLOR_TYPE_RGB, 8, 0), make_webp(rgba, 64, 64, 0, 0)};
    for (int i = 0; i < 3; i++) {
        i2v_photo *p = NULL;
        i2v_error err = {0};
        /* Truncated: header readable, data missing. */
        size_t cut = bufs[i].len * 2 / 3;
        int rc = i2v_photo_open_memory(&p, bufs[i].data, cut, NULL, &err);
        if (rc == 0) {
            i2v_rgb rgb;
            rc = i2v__photo_decode(p, 0, 0, &rgb, &err);
            i2v_photo_free(&p);
        }
        assert_true(rc == I2V_ECORRUPT);
    }
    for (int i = 0; i < 3; i++)
        free(bufs[i].data);
    free(rgba);
    free(u);
}

/* A PNG whose last chunk is cut short after its 8-byte header, claiming
 * 1.8 GB (found by fuzz_image: libpng allocated and cleared all of it): the
 * header walk refuses it before libpng sees it. */
static void test_png_cut_chunk_header(void **state)
{
    (void)state;
    static const uint8_t bomb[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x40, 0x08, 0x00, 0x00, 0x00, 0x00, 0x8f,
        0x02, 0x2e, 0x02, 0x00, 0x00, 0x00, 0x03, 0x74, 0x58, 0x74, 0x45, 0x6b, 0x00, 0x30, 0x54,
        0xbb, 0x17, 0x35, 0x00, 0x00, 0x00, 0x03, 0x74, 0x45, 0x58, 0x74, 0x6b, 0x00, 0x00, 0x60,
        0x70, 0x00, 0x02, 0x6f, 0x5f, 0x00, 0x03, 0x74, 0x45, 0x58, 0x74, 0x6b};
    i2v_photo *p = NULL;
    i2v_error err = {0};
    assert_int_equal(sizeof bomb, 72);
    assert_int_equal(i2v_photo_open_memory(&p, bomb, sizeof bomb, NULL, &err), I2V_ECORRUPT);
    assert_null(p);
    assert_non_null(strstr(err.message, "claims 1868496899 bytes"));
}

static void test_jpeg_scaled_decode(void **state)
{
    (void)state;
    const int w = 2048, h = 1536;
    uint8_t *u = pattern_rgb(w, h);
    buf b = make_jpeg(u, w, h, SUB_420, 1, 0);
    i2v_photo *p = NULL;
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, NULL, NULL), 0);
    i2v_rgb rgb;
    /* 500x300 needed: 1/4 scale (512x384) is the smallest that covers it. */
    assert_int_equal(i2v__photo_decode(p, 500, 300, &rgb, NULL), 0);
    assert_int_equal(rgb.width, 512);
    assert_int_equal(rgb.height, 384);
    i2v__rgb_release(&rgb);
    /* 1100 wide needs 5/8 (1280). */
    assert_int_equal(i2v__photo_decode(p, 1100, 0, &rgb, NULL), 0);
    assert_int_equal(rgb.width, 1280);
    i2v__rgb_release(&rgb);
    i2v_photo_free(&p);
    free(b.data);
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_subsampling_and_progressive),
        cmocka_unit_test(test_jpeg_grey),
        cmocka_unit_test(test_jpeg_cmyk),
        cmocka_unit_test(test_jpeg_orientations),
        cmocka_unit_test(test_png_variants),
        cmocka_unit_test(test_png_alpha_over_white),
        cmocka_unit_test(test_webp),
        cmocka_unit_test(test_png_and_webp_orientation),
        cmocka_unit_test(test_heic),
        cmocka_unit_test(test_sniff_by_bytes_not_name),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_pixel_limit_from_header),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_png_cut_chunk_header),
        cmocka_unit_test(test_jpeg_scaled_decode),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
