/*
 * audio.c - ambient textures from noise, and BS.1770 loudness.
 *
 * Every texture is a bed (filtered noise, slowly modulated) plus events
 * (drops, chirps, crackles, passing cars) placed by a seeded generator. The
 * two channels get partly independent noise so the bed is wide, and each
 * event its own position in the stereo field.
 */
#include "audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "prompt.h"

#define RATE I2V_AUDIO_RATE
#define TWO_PI 6.283185307179586

typedef struct rng {
    uint64_t s;
} rng;

static double uniform(rng *r) /* [0, 1) */
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) * (1.0 / 9007199254740992.0);
}

static double white(rng *r)
{
    return 2 * uniform(r) - 1;
}

/* Paul Kellet's economy pink noise filter. */
typedef struct pink {
    double b0, b1, b2;
} pink;

static double pink_next(pink *p, double w)
{
    p->b0 = 0.99765 * p->b0 + w * 0.0990460;
    p->b1 = 0.96300 * p->b1 + w * 0.2965164;
    p->b2 = 0.57000 * p->b2 + w * 1.0526913;
    return (p->b0 + p->b1 + p->b2 + w * 0.1848) * 0.25;
}

typedef struct onepole {
    double a, z;
} onepole;

static onepole lowpass(double hz)
{
    return (onepole){1 - exp(-TWO_PI * hz / RATE), 0};
}

static double lp(onepole *f, double x)
{
    f->z += f->a * (x - f->z);
    return f->z;
}

static const i2v_phrase sound_words[] = {
    {"rain", I2V_SOUND_RAIN},    {"rainy", I2V_SOUND_RAIN},     {"storm", I2V_SOUND_RAIN},
    {"ocean", I2V_SOUND_OCEAN},  {"sea", I2V_SOUND_OCEAN},      {"waves", I2V_SOUND_OCEAN},
    {"beach", I2V_SOUND_OCEAN},  {"birds", I2V_SOUND_BIRDS},    {"birdsong", I2V_SOUND_BIRDS},
    {"forest", I2V_SOUND_BIRDS}, {"garden", I2V_SOUND_BIRDS},   {"fireplace", I2V_SOUND_FIRE},
    {"fire", I2V_SOUND_FIRE},    {"crackling", I2V_SOUND_FIRE}, {"city", I2V_SOUND_CITY},
    {"street", I2V_SOUND_CITY},  {"traffic", I2V_SOUND_CITY},   {"urban", I2V_SOUND_CITY},
};

i2v_sound i2v__sound_from_prompt(const char *prompt)
{
    return (i2v_sound)i2v__phrase_first(prompt, sound_words,
                                        sizeof sound_words / sizeof sound_words[0], I2V_SOUND_ROOM);
}

const char *i2v__sound_name(i2v_sound s)
{
    static const char *const names[] = {"room tone", "rain", "ocean", "birds", "fireplace", "city"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "room tone";
}

/* Adds a short event: a sine sweep (chirp) or a noise burst, panned. */
static void add_chirp(float *o, size_t n, size_t at, double dur, double f0, double f1, double amp,
                      double pan, rng *r)
{
    const size_t len = (size_t)(dur * RATE);
    double phase = 0;
    const double vib = 18 + 10 * uniform(r);
    for (size_t i = 0; i < len && at + i < n; i++) {
        const double t = (double)i / len;
        const double env = sin(M_PI * t) * sin(M_PI * t);
        const double f = f0 + (f1 - f0) * t + 120 * sin(TWO_PI * vib * i / RATE);
        phase += TWO_PI * f / RATE;
        const double v = amp * env * sin(phase);
        o[2 * (at + i)] += (float)(v * (1 - pan));
        o[2 * (at + i) + 1] += (float)(v * pan);
    }
}

static void add_burst(float *o, size_t n, size_t at, double dur, double amp, double pan,
                      double bright, rng *r)
{
    const size_t len = (size_t)(dur * RATE) + 1;
    onepole f = lowpass(bright);
    for (size_t i = 0; i < len && at + i < n; i++) {
        const double env = exp(-5.0 * i / len);
        const double w = white(r);
        const double v = amp * env * (w - lp(&f, w) * 0.5);
        o[2 * (at + i)] += (float)(v * (1 - pan));
        o[2 * (at + i) + 1] += (float)(v * pan);
    }
}

/* Events at random times with a mean rate per second. */
static size_t next_event(rng *r, double rate)
{
    return (size_t)(-log(1 - uniform(r)) / rate * RATE);
}

static void bed(float *o, size_t n, i2v_sound s, rng *r)
{
    pink pc = {0}, pl = {0}, pr = {0};
    onepole lc = lowpass(s == I2V_SOUND_RAIN ? 6000 : s == I2V_SOUND_OCEAN ? 900 : 500);
    onepole ll = lc, lr = lc;
    onepole hc = lowpass(s == I2V_SOUND_RAIN ? 900 : 60), hl = hc, hr = hc;
    /* Ocean waves: a slow swell every 6..10 s. */
    double wave_phase = uniform(r), wave_period = 6 + 4 * uniform(r);
    for (size_t i = 0; i < n; i++) {
        const double c = pink_next(&pc, white(r));
        double L = 0.6 * c + 0.4 * pink_next(&pl, white(r));
        double R = 0.6 * c + 0.4 * pink_next(&pr, white(r));
        L = lp(&ll, L);
        R = lp(&lr, R);
        /* Remove the lowest rumble (or, for rain, everything below the hiss). */
        L -= lp(&hl, L);
        R -= lp(&hr, R);
        (void)hc;
        double g = 1.0;
        if (s == I2V_SOUND_OCEAN) {
            wave_phase += 1.0 / (wave_period * RATE);
            if (wave_phase >= 1) {
                wave_phase -= 1;
                wave_period = 6 + 4 * uniform(r);
            }
            /* Quick rise, long wash out. */
            const double p = wave_phase;
            g = 0.25 + 0.75 * (p < 0.3 ? sin(M_PI / 2 * p / 0.3) : exp(-(p - 0.3) * 4));
        } else if (s == I2V_SOUND_FIRE) {
            g = 0.7 + 0.3 * sin(TWO_PI * 0.13 * i / RATE);
        } else if (s == I2V_SOUND_CITY) {
            g = 0.8 + 0.2 * sin(TWO_PI * 0.07 * i / RATE);
        }
        o[2 * i] = (float)(L * g);
        o[2 * i + 1] = (float)(R * g);
    }
}

static void events(float *o, size_t n, i2v_sound s, rng *r)
{
    switch (s) {
    case I2V_SOUND_RAIN:
        for (size_t at = next_event(r, 40); at < n; at += next_event(r, 40))
            add_burst(o, n, at, 0.002 + 0.004 * uniform(r), 0.2 * uniform(r), uniform(r), 3000, r);
        break;
    case I2V_SOUND_BIRDS:
        for (size_t at = next_event(r, 0.7); at < n; at += next_event(r, 0.7)) {
            const int calls = 2 + (int)(uniform(r) * 4);
            const double pan = 0.15 + 0.7 * uniform(r), f0 = 2400 + 1500 * uniform(r);
            const double amp = 0.05 + 0.1 * uniform(r);
            for (int k = 0; k < calls; k++)
                add_chirp(o, n, at + (size_t)(k * (0.12 + 0.05 * uniform(r)) * RATE),
                          0.06 + 0.06 * uniform(r), f0, f0 + 1200 * uniform(r), amp, pan, r);
        }
        break;
    case I2V_SOUND_FIRE:
        for (size_t at = next_event(r, 12); at < n; at += next_event(r, 12)) {
            const double u = uniform(r);
            add_burst(o, n, at, 0.001 + 0.008 * uniform(r), 0.05 + 0.4 * u * u * u, uniform(r),
                      1500, r);
        }
        break;
    case I2V_SOUND_CITY:
        /* Cars passing: band noise swelling while it crosses the field. */
        for (size_t at = next_event(r, 0.35); at < n; at += next_event(r, 0.35)) {
            const size_t len = (size_t)((2.5 + 2 * uniform(r)) * RATE);
            const int dir = uniform(r) < 0.5;
            onepole f = lowpass(700), h = lowpass(150);
            const double amp = 0.2 + 0.3 * uniform(r);
            for (size_t i = 0; i < len && at + i < n; i++) {
                const double t = (double)i / len, env = sin(M_PI * t) * sin(M_PI * t);
                double w = lp(&f, white(r));
                w -= lp(&h, w);
                const double pan = dir ? t : 1 - t, v = amp * env * w;
                o[2 * (at + i)] += (float)(v * (1 - pan));
                o[2 * (at + i) + 1] += (float)(v * pan);
            }
        }
        break;
    default:
        break;
    }
}

/* K-weighting (BS.1770-4) at 48 kHz: a high shelf, then a high pass. */
typedef struct biquad {
    double b0, b1, b2, a1, a2, z1, z2;
} biquad;

static double bq(biquad *f, double x)
{
    const double y = f->b0 * x + f->z1;
    f->z1 = f->b1 * x - f->a1 * y + f->z2;
    f->z2 = f->b2 * x - f->a2 * y;
    return y;
}

double i2v__loudness(const float *stereo, size_t frames)
{
    const size_t block = RATE * 4 / 10, hop = RATE / 10;
    if (frames < block) return -HUGE_VAL;
    const size_t nhop = frames / hop;
    double *e = calloc(nhop, sizeof(double)); /* K-weighted energy per 100 ms hop */
    if (!e) return -HUGE_VAL;
    for (int ch = 0; ch < 2; ch++) {
        biquad s = {1.53512485958697,
                    -2.69169618940638,
                    1.19839281085285,
                    -1.69065929318241,
                    0.73248077421585,
                    0,
                    0};
        biquad h = {1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621, 0, 0};
        for (size_t i = 0; i < nhop * hop; i++) {
            const double y = bq(&h, bq(&s, stereo[2 * i + ch]));
            e[i / hop] += y * y;
        }
    }
    const size_t nblocks = nhop >= 4 ? nhop - 3 : 0;
    double *z = malloc(sizeof(double) * (nblocks ? nblocks : 1));
    if (!z) {
        free(e);
        return -HUGE_VAL;
    }
    for (size_t b = 0; b < nblocks; b++)
        z[b] = (e[b] + e[b + 1] + e[b + 2] + e[b + 3]) / block;
    free(e);
    double sum = 0;
    size_t cnt = 0;
    for (size_t b = 0; b < nblocks; b++)
        if (-0.691 + 10 * log10(z[b] + 1e-30) > -70) {
            sum += z[b];
            cnt++;
        }
    if (!cnt) {
        free(z);
        return -HUGE_VAL;
    }
    const double rel = -0.691 + 10 * log10(sum / cnt) - 10;
    sum = 0;
    cnt = 0;
    for (size_t b = 0; b < nblocks; b++) {
        const double l = -0.691 + 10 * log10(z[b] + 1e-30);
        if (l > -70 && l > rel) {
            sum += z[b];
            cnt++;
        }
    }
    free(z);
    return cnt ? -0.691 + 10 * log10(sum / cnt) : -HUGE_VAL;
}

int i2v__audio_make(i2v_sound s, size_t frames, uint32_t seed, float **out, i2v_error *err)
{
    *out = NULL;
    if (frames == 0) return i2v__err(err, I2V_EINVAL, "audio: no samples to make");
    float *o = malloc(sizeof(float) * 2 * frames);
    if (!o) return i2v__err(err, I2V_ENOMEM, "out of memory for the soundtrack");
    rng r = {0x2545F4914F6CDD1Dull ^ ((uint64_t)seed << 17) ^ (uint64_t)s};
    if (!r.s) r.s = 1;
    bed(o, frames, s, &r);
    events(o, frames, s, &r);
    /* Fades: raised cosine in (up to 1 s) and out (up to 1.5 s). */
    const double secs = (double)frames / RATE;
    const size_t fin = (size_t)(fmin(1.0, secs / 5) * RATE);
    const size_t fout = (size_t)(fmin(1.5, secs / 4) * RATE);
    for (size_t i = 0; i < frames; i++) {
        double g = 1;
        if (i < fin) g *= 0.5 - 0.5 * cos(M_PI * (double)i / fin);
        if (i >= frames - fout) g *= 0.5 - 0.5 * cos(M_PI * (double)(frames - 1 - i) / fout);
        o[2 * i] *= (float)g;
        o[2 * i + 1] *= (float)g;
    }
    /* Level to the target, then keep peaks under -1 dBFS with a soft knee
     * (it only touches rare crackles; the loudness barely moves). */
    double lufs = i2v__loudness(o, frames);
    if (isfinite(lufs)) {
        const float gain = (float)pow(10, (I2V_AUDIO_TARGET_LUFS - lufs) / 20);
        for (size_t i = 0; i < 2 * frames; i++)
            o[i] *= gain;
    }
    const float knee = 0.75f, ceiling = 0.89f;
    for (size_t i = 0; i < 2 * frames; i++) {
        const float a = fabsf(o[i]);
        if (a > knee) {
            const float v = knee + (ceiling - knee) * tanhf((a - knee) / (ceiling - knee));
            o[i] = o[i] < 0 ? -v : v;
        }
    }
    *out = o;
    return 0;
}
