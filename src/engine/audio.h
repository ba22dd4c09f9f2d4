/*
 * audio.h - ambient soundtracks synthesised to the length of the video, and
 * the ITU-R BS.1770 loudness measure used to level them.
 *
 * A texture ("rain", "ocean", "birds", "fireplace", "city" or a calm room
 * tone) is built from filtered noise and short synthetic events, stereo at
 * 48 kHz, faded in and out and normalised to -18 LUFS integrated. The same
 * texture, seed and length give the same samples.
 */
#ifndef I2V_AUDIO_H
#define I2V_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "i2v/i2v.h"

#define I2V_AUDIO_RATE 48000
#define I2V_AUDIO_TARGET_LUFS (-18.0)

typedef enum i2v_sound {
    I2V_SOUND_ROOM = 0,
    I2V_SOUND_RAIN,
    I2V_SOUND_OCEAN,
    I2V_SOUND_BIRDS,
    I2V_SOUND_FIRE,
    I2V_SOUND_CITY,
} i2v_sound;

/* The texture the prompt asks for (room tone when it names none). */
i2v_sound i2v__sound_from_prompt(const char *prompt);
const char *i2v__sound_name(i2v_sound s);

/* Synthesises frames stereo frames (interleaved floats, caller frees). */
int i2v__audio_make(i2v_sound s, size_t frames, uint32_t seed, float **out, i2v_error *err);

/* Integrated loudness (LUFS, gated) of interleaved stereo at 48 kHz; -inf
 * (i.e. -HUGE_VAL) for silence. */
double i2v__loudness(const float *stereo, size_t frames);

#endif
