/* look.c - colour grades from plain words. */
#include "look.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

void i2v__look_init(i2v_look *l)
{
    memset(l, 0, sizeof *l);
    l->saturation = 1.0;
}

typedef struct look_rule {
    const char *phrase;
    double temperature, saturation, contrast, lift, vignette;
    int day_to_night;
} look_rule;

/* Applied in order of appearance in the table; fields left at 0 (or
 * saturation 1) leave the look alone. */
static const look_rule rules[] = {
    {"warm", 0.5, 1, 0, 0, 0, 0},
    {"warmer", 0.6, 1, 0, 0, 0, 0},
    {"cosy", 0.4, 1, 0, 0, 0, 0},
    {"cozy", 0.4, 1, 0, 0, 0, 0},
    {"cool", -0.5, 1, 0, 0, 0, 0},
    {"cold", -0.6, 1, 0, 0, 0, 0},
    {"golden hour", 0.8, 1.15, 0.1, 0.03, 0, 0},
    {"golden", 0.8, 1.15, 0.1, 0.03, 0, 0},
    {"black and white", 0, 0, 0, 0, 0, 0},
    {"black white", 0, 0, 0, 0, 0, 0},
    {"b w", 0, 0, 0, 0, 0, 0},
    {"monochrome", 0, 0, 0, 0, 0, 0},
    {"greyscale", 0, 0, 0, 0, 0, 0},
    {"grayscale", 0, 0, 0, 0, 0, 0},
    {"cinematic", 0, 0.9, 0.35, 0, 0.35, 0},
    {"film", 0, 0.9, 0.3, 0, 0.3, 0},
    {"vignette", 0, 1, 0, 0, 0.35, 0},
    {"vibrant", 0, 1.3, 0, 0, 0, 0},
    {"muted", 0, 0.7, 0, 0, 0, 0},
    {"bright", 0, 1, 0, 0.06, 0, 0},
    {"moody", 0, 0.85, 0.2, -0.06, 0.2, 0},
    {"day to night", 0, 1, 0, 0, 0, 1},
    {"day into night", 0, 1, 0, 0, 0, 1},
    {"nightfall", 0, 1, 0, 0, 0, 1},
    {"dusk", 0, 1, 0, 0, 0, 1},
};

void i2v__look_parse(const char *prompt, i2v_look *l)
{
    char text[2048], pat[64];
    i2v__look_init(l);
    if (!prompt) return;
    i2v_prompt_words(prompt, text, sizeof text);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const look_rule *r = &rules[i];
        snprintf(pat, sizeof pat, " %s ", r->phrase);
        if (!strstr(text, pat)) continue;
        if (r->temperature != 0) l->temperature = r->temperature;
        if (r->saturation != 1) l->saturation = l->saturation == 0 ? 0 : r->saturation;
        if (r->contrast > l->contrast) l->contrast = r->contrast;
        if (r->lift != 0) l->lift = r->lift;
        if (r->vignette > l->vignette) l->vignette = r->vignette;
        if (r->day_to_night) l->day_to_night = 1;
    }
}

int i2v__look_any(const i2v_look *l)
{
    return l->temperature != 0 || l->saturation != 1 || l->contrast > 0 || l->lift != 0 ||
           l->vignette > 0 || l->day_to_night;
}

void i2v__look_describe(const i2v_look *l, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < len) n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                         \
    } while (0)
    if (l->temperature > 0.7)
        ADD("golden ");
    else if (l->temperature > 0)
        ADD("warm ");
    else if (l->temperature < 0)
        ADD("cool ");
    if (l->saturation == 0)
        ADD("black-and-white ");
    else if (l->saturation > 1)
        ADD("vibrant ");
    else if (l->saturation < 1)
        ADD("muted ");
    if (l->contrast > 0) ADD("contrast=%.2f ", l->contrast);
    if (l->vignette > 0) ADD("vignette=%.2f ", l->vignette);
    if (l->lift != 0) ADD("lift=%+.2f ", l->lift);
    if (l->day_to_night) ADD("day-to-night ");
#undef ADD
    if (n == 0)
        snprintf(buf, len, "none");
    else if (n <= len)
        buf[n - 1] = '\0';
}

static uint8_t clamp8(double v, double lo, double hi)
{
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (uint8_t)lround(v);
}

void i2v__look_grade(const i2v_look *l, double t, i2v_grade *g)
{
    const double night = l->day_to_night ? t * t * (3 - 2 * t) : 0;
    const double sat = l->saturation * (1 - 0.6 * night);
    const double temp = l->temperature - 0.8 * night;
    for (int i = 0; i < 256; i++) {
        double v = (i - 16) / 219.0;
        v += l->lift;
        if (l->contrast > 0) {
            const double c = v < 0 ? 0 : v > 1 ? 1 : v;
            v += l->contrast * (c * c * (3 - 2 * c) - c);
        }
        if (night > 0) {
            const double c = v < 0 ? 0 : v > 1 ? 1 : v;
            v = pow(c, 1 + 1.2 * night) * (1 - 0.5 * night);
        }
        g->y[i] = clamp8(16 + 219 * v, 16, 235);
        /* Warm: more red, less blue (Cr up, Cb down); cool the other way. */
        g->cb[i] = clamp8(128 + sat * (i - 128) - 12 * temp, 16, 240);
        g->cr[i] = clamp8(128 + sat * (i - 128) + 10 * temp, 16, 240);
    }
}

uint16_t *i2v__look_vignette(const i2v_look *l, int w, int h, int *failed)
{
    *failed = 0;
    if (l->vignette <= 0) return NULL;
    uint16_t *m = malloc(sizeof(uint16_t) * (size_t)w * h);
    if (!m) {
        *failed = 1;
        return NULL;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const double dx = (2.0 * x + 1) / w - 1, dy = (2.0 * y + 1) / h - 1;
            double r = sqrt((dx * dx + dy * dy) / 2);
            double s = (r - 0.35) / 0.65;
            s = s < 0 ? 0 : s > 1 ? 1 : s;
            s = s * s * (3 - 2 * s);
            m[(size_t)y * w + x] = (uint16_t)lround(32768 * (1 - l->vignette * s));
        }
    return m;
}
