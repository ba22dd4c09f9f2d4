/* price.c - credits per video (SPEC.md's table). */
#include "price.h"

#include <string.h>

/* Credits for 5 s; 10 s costs twice as much. Rows: Flash, Base, Base + audio. */
static const int per5[3][3] = {
    {10, 20, 40}, /* Flash */
    {8, 16, 32},  /* Base */
    {16, 32, 64}, /* Base with audio */
};
static const char *const names[] = {"480p", "720p", "1080p"};

int i2v__resolution_parse(const char *s, i2v_resolution *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (i2v_resolution)i;
            return 0;
        }
    return -1;
}

const char *i2v__resolution_name(i2v_resolution r)
{
    return names[r];
}

void i2v__resolution_size(i2v_resolution r, int *w, int *h)
{
    static const int ws[] = {854, 1280, 1920}, hs[] = {480, 720, 1080};
    *w = ws[r];
    *h = hs[r];
}

int i2v__price(int base, int audio, i2v_resolution r, int duration)
{
    const int row = base ? (audio ? 2 : 1) : 0;
    const int units = duration <= 0 ? 1 : (duration + 4) / 5;
    return per5[row][r] * units;
}

int i2v__price_size(int base, int audio, int w, int h, int duration)
{
    static const long long budget[] = {854 * 480, 1280 * 768, 1920 * 1080};
    const long long px = (long long)(w > 0 ? w : 1) * (h > 0 ? h : 1);
    for (int r = 0; r < 3; r++)
        if (px <= budget[r]) return i2v__price(base, audio, (i2v_resolution)r, duration);
    const int times = (int)((px + budget[2] - 1) / budget[2]);
    return i2v__price(base, audio, I2V_RES_1080P, duration) * times;
}
