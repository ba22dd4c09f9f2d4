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
