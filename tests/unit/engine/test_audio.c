/* test_audio.c - soundtracks and loudness (src/engine/audio.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/audio.h"

static void test_texture_words(void **state)
{
    (void)state;
    assert_int_equal(i2v__sound_from_prompt(NULL), I2V_SOUND_ROOM);
    assert_int_equal(i2v__sound_from_prompt("slow zoom in"), I2V_SOUND_ROOM);
    assert_int_equal(i2v__sound_from_prompt("Rain on the window"), I2V_SOUND_RAIN);
    assert_int_equal(i2v__sound_from_prompt("waves of the ocean"), I2V_SOUND_OCEAN);
    assert_int_equal(i2v__sound_from_prompt("birds in the garden"), I2V_SOUND_BIRDS);
    assert_int_equal(i2v__sound_from_prompt("a cosy fireplace"), I2V_SOUND_FIRE);
    assert_int_equal(i2v__sound_from_prompt("busy city street"), I2V_SOUND_CITY);
    assert_int_equal(i2v__sound_from_prompt("brainstorm"), I2V_SOUND_ROOM);
}

static void test_loudness_of_a_sine(void **state)
{
    (void)state;
    /* BS.1770 (EBU Tech 3341 case): a 997 Hz sine at 0 dBFS peak in one
     * channel reads -3.01 LUFS, so in both channels 0 LUFS; at -20 dBFS,
     * -20 LUFS. */
    const size_t n = 48000 * 3;
    float *s = malloc(sizeof(float) * 2 * n);
    for (size_t i = 0; i < n; i++)
        s[2 * i] = s[2 * i + 1] = (float)(0.1 * sin(2 * M_PI * 997 * i / 48000.0));
    const double l = i2v__loudness(s, n);
    print_message("sine at -20 dBFS: %.2f LUFS\n", l);
    assert_true(fabs(l - (-20.0)) < 0.1);
    memset(s, 0, sizeof(float) * 2 * n);
    assert_true(isinf(i2v__loudness(s, n)));
    free(s);
}

static void test_every_texture_is_levelled_and_deterministic(void **state)
{
    (void)state;
    const size_t n = 48000 * 5;
    for (int t = I2V_SOUND_ROOM; t <= I2V_SOUND_CITY; t++) {
        float *a = NULL, *b = NULL;
        assert_int_equal(i2v__audio_make((i2v_sound)t, n, 7, &a, NULL), 0);
        assert_int_equal(i2v__audio_make((i2v_sound)t, n, 7, &b, NULL), 0);
        assert_memory_equal(a, b, sizeof(float) * 2 * n);
        const double l = i2v__loudness(a, n);
        double peak = 0, mid = 0;
        for (size_t i = 0; i < 2 * n; i++)
            peak = fmax(peak, fabs(a[i]));
        /* No silence outside the fades: every 100 ms window of the middle has sound. */
        for (size_t w = 48000; w + 4800 < n - 72000; w += 4800) {
            double e = 0;
            for (size_t i = w; i < w + 4800; i++)
                e += a[2 * i] * a[2 * i] + a[2 * i + 1] * a[2 * i + 1];
            const double db = 10 * log10(e / 9600 + 1e-30);
            if (mid == 0 || db < mid) mid = db;
        }
        print_message("%s: %.2f LUFS, peak %.3f, quietest 100 ms %.1f dBFS\n",
                      i2v__sound_name((i2v_sound)t), l, peak, mid);
        assert_true(fabs(l - I2V_AUDIO_TARGET_LUFS) < 1.0);
        assert_true(peak < 0.9);
        assert_true(mid > -45);
        /* The fades start and end at silence. */
        assert_true(fabs(a[0]) < 1e-6 && fabs(a[2 * n - 1]) < 1e-3);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texture_words),
        cmocka_unit_test(test_loudness_of_a_sine),
        cmocka_unit_test(test_every_texture_is_levelled_and_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
