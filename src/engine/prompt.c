/*
 * prompt.c - a small table-driven reader of the prompt's motion words.
 *
 * The prompt is lower-cased and split into words; phrases are matched against
 * the tables below. Later phrases win over earlier ones.
 */
#include "prompt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void i2v__steer_init(i2v_steer *s)
{
    s->speed = 1.0;
    s->amount = 1.0;
    s->easing = I2V_EASE_DEFAULT;
    s->has_focus = 0;
    s->focus_light = 0;
    s->focus_x = s->focus_y = 0.5;
}

typedef struct word_rule {
    const char *phrase; /* space-separated words, matched on word boundaries */
    double speed, amount;
    i2v_easing easing;
    double fx, fy; /* focus, or -1 for none */
} word_rule;

static const word_rule rules[] = {
    {"slow", 0.6, 0, 0, -1, -1},
    {"slowly", 0.6, 0, 0, -1, -1},
    {"gentle", 0.7, 0, 0, -1, -1},
    {"gently", 0.7, 0, 0, -1, -1},
    {"fast", 1.5, 0, 0, -1, -1},
    {"quick", 1.5, 0, 0, -1, -1},
    {"quickly", 1.5, 0, 0, -1, -1},
    {"rapid", 1.5, 0, 0, -1, -1},
    {"subtle", 0, 0.5, 0, -1, -1},
    {"slight", 0, 0.5, 0, -1, -1},
    {"dramatic", 0, 1.7, 0, -1, -1},
    {"strong", 0, 1.5, 0, -1, -1},
    {"constant speed", 0, 0, I2V_EASE_LINEAR, -1, -1},
    {"linear", 0, 0, I2V_EASE_LINEAR, -1, -1},
    {"steady", 0, 0, I2V_EASE_LINEAR, -1, -1},
    {"ease", 0, 0, I2V_EASE_IN_OUT, -1, -1},
    {"smooth", 0, 0, I2V_EASE_IN_OUT, -1, -1},
    {"towards the left", 0, 0, 0, 0.15, 0.5},
    {"toward the left", 0, 0, 0, 0.15, 0.5},
    {"towards the right", 0, 0, 0, 0.85, 0.5},
    {"toward the right", 0, 0, 0, 0.85, 0.5},
    {"towards the top", 0, 0, 0, 0.5, 0.15},
    {"toward the top", 0, 0, 0, 0.5, 0.15},
    {"towards the bottom", 0, 0, 0, 0.5, 0.85},
    {"toward the bottom", 0, 0, 0, 0.5, 0.85},
    {"towards the centre", 0, 0, 0, 0.5, 0.5},
    {"towards the center", 0, 0, 0, 0.5, 0.5},
    {"upper left", 0, 0, 0, 0.2, 0.2},
    {"upper right", 0, 0, 0, 0.8, 0.2},
    {"lower left", 0, 0, 0, 0.2, 0.8},
    {"lower right", 0, 0, 0, 0.8, 0.8},
    {"top left", 0, 0, 0, 0.2, 0.2},
    {"top right", 0, 0, 0, 0.8, 0.2},
    {"bottom left", 0, 0, 0, 0.2, 0.8},
    {"bottom right", 0, 0, 0, 0.8, 0.8},
    {"left side", 0, 0, 0, 0.15, 0.5},
    {"right side", 0, 0, 0, 0.85, 0.5},
    {"the left", 0, 0, 0, 0.15, 0.5},
    {"the right", 0, 0, 0, 0.85, 0.5},
    {"the top", 0, 0, 0, 0.5, 0.15},
    {"the bottom", 0, 0, 0, 0.5, 0.85},
    {"the sky", 0, 0, 0, 0.5, 0.15},
    {"the floor", 0, 0, 0, 0.5, 0.85},
    {"window", 0, 0, 0, -2, -2},
    {"windows", 0, 0, 0, -2, -2},
    {"lamp", 0, 0, 0, -2, -2},
    {"the sun", 0, 0, 0, -2, -2},
    {"sunlight", 0, 0, 0, -2, -2},
};

void i2v_prompt_words(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    int space = 1;
    out[n++] = ' ';
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 2 < cap; p++) {
        if (isalnum(*p)) {
            out[n++] = (char)tolower(*p);
            space = 0;
        } else if (!space) {
            out[n++] = ' ';
            space = 1;
        }
    }
    if (!space) out[n++] = ' ';
    out[n] = '\0';
}

void i2v__prompt_parse(const char *prompt, i2v_steer *s)
{
    char text[2048], pat[64];
    i2v__steer_init(s);
    if (!prompt) return;
    i2v_prompt_words(prompt, text, sizeof text);
    /* Apply rules in the order their phrases occur in the prompt. */
    const char *cursor = text;
    for (;;) {
        const word_rule *hit = NULL;
        const char *at = NULL;
        size_t hit_len = 0;
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
            snprintf(pat, sizeof pat, " %s ", rules[i].phrase);
            const char *p = strstr(cursor, pat);
            /* Earliest match; among equal starts the longest phrase. */
            if (p && (!at || p < at || (p == at && strlen(pat) > hit_len))) {
                at = p;
                hit = &rules[i];
                hit_len = strlen(pat);
            }
        }
        if (!hit) break;
        if (hit->speed > 0) s->speed = hit->speed;
        if (hit->amount > 0) s->amount = hit->amount;
        if (hit->easing) s->easing = hit->easing;
        if (hit->fx == -2) {
            s->focus_light = 1;
            s->has_focus = 0;
        } else if (hit->fx >= 0) {
            s->focus_light = 0;
            s->has_focus = 1;
            s->focus_x = hit->fx;
            s->focus_y = hit->fy;
        }
        cursor = at + hit_len - 1; /* keep the trailing space as the next boundary */
    }
    static const char *const flat[] = {" 2d ", " no 3d ", " without 3d "};
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
        if (strstr(text, flat[i])) s->flat = 1;
}

void i2v__steer_describe(const i2v_steer *s, char *buf, size_t len)
{
    const char *speed = s->speed < 1 ? "slow" : s->speed > 1 ? "fast" : "normal";
    const char *amount = s->amount < 1 ? "subtle" : s->amount > 1 ? "dramatic" : "normal";
    const char *easing = s->easing == I2V_EASE_LINEAR ? "constant-speed" : "ease-in-out";
    if (s->focus_light)
        snprintf(buf, len, "speed=%s amount=%s timing=%s focus=brightest", speed, amount, easing);
    else if (s->has_focus)
        snprintf(buf, len, "speed=%s amount=%s timing=%s focus=%.2f,%.2f", speed, amount, easing,
                 s->focus_x, s->focus_y);
    else
        snprintf(buf, len, "speed=%s amount=%s timing=%s focus=auto", speed, amount, easing);
}

int i2v__phrase_first(const char *prompt, const i2v_phrase *table, size_t n, int fallback)
{
    char text[2048], pat[64];
    if (!prompt) return fallback;
    i2v_prompt_words(prompt, text, sizeof text);
    const char *at = NULL;
    int value = fallback;
    for (size_t i = 0; i < n; i++) {
        snprintf(pat, sizeof pat, " %s ", table[i].phrase);
        const char *p = strstr(text, pat);
        if (p && (!at || p < at)) {
            at = p;
            value = table[i].value;
        }
    }
    return value;
}

static const i2v_phrase moves[] = {
    {"zoom in", I2V_MOVE_ZOOM_IN},
    {"zoom into", I2V_MOVE_ZOOM_IN},
    {"zoom towards", I2V_MOVE_ZOOM_IN},
    {"zoom toward", I2V_MOVE_ZOOM_IN},
    {"push into", I2V_MOVE_ZOOM_IN},
    {"move closer", I2V_MOVE_ZOOM_IN},
    {"move in", I2V_MOVE_ZOOM_IN},
    {"zooms in", I2V_MOVE_ZOOM_IN},
    {"zooming in", I2V_MOVE_ZOOM_IN},
    {"push in", I2V_MOVE_ZOOM_IN},
    /* The 3D camera (2D fallback on photos that are not rooms). */
    {"dolly in", I2V_MOVE_DOLLY_IN},
    {"dolly forward", I2V_MOVE_DOLLY_IN},
    {"walk into", I2V_MOVE_DOLLY_IN},
    {"walk in", I2V_MOVE_DOLLY_IN},
    {"walk forward", I2V_MOVE_DOLLY_IN},
    {"walks into", I2V_MOVE_DOLLY_IN},
    {"walking into", I2V_MOVE_DOLLY_IN},
    {"move forward", I2V_MOVE_DOLLY_IN},
    {"moves forward", I2V_MOVE_DOLLY_IN},
    {"step into", I2V_MOVE_DOLLY_IN},
    {"dolly out", I2V_MOVE_DOLLY_OUT},
    {"dolly back", I2V_MOVE_DOLLY_OUT},
    {"walk back", I2V_MOVE_DOLLY_OUT},
    {"walk out", I2V_MOVE_DOLLY_OUT},
    {"walk backwards", I2V_MOVE_DOLLY_OUT},
    {"move backward", I2V_MOVE_DOLLY_OUT},
    {"move backwards", I2V_MOVE_DOLLY_OUT},
    {"step back", I2V_MOVE_DOLLY_OUT},
    {"truck left", I2V_MOVE_TRUCK_LEFT},
    {"step left", I2V_MOVE_TRUCK_LEFT},
    {"step to the left", I2V_MOVE_TRUCK_LEFT},
    {"slide left", I2V_MOVE_TRUCK_LEFT},
    {"sideways to the left", I2V_MOVE_TRUCK_LEFT},
    {"truck right", I2V_MOVE_TRUCK_RIGHT},
    {"step right", I2V_MOVE_TRUCK_RIGHT},
    {"step to the right", I2V_MOVE_TRUCK_RIGHT},
    {"slide right", I2V_MOVE_TRUCK_RIGHT},
    {"sideways to the right", I2V_MOVE_TRUCK_RIGHT},
    {"sideways", I2V_MOVE_TRUCK_RIGHT},
    {"orbit", I2V_MOVE_ORBIT},
    {"orbits", I2V_MOVE_ORBIT},
    {"arc around", I2V_MOVE_ORBIT},
    {"circle around", I2V_MOVE_ORBIT},
    {"zoom out", I2V_MOVE_ZOOM_OUT},
    {"zooms out", I2V_MOVE_ZOOM_OUT},
    {"zooming out", I2V_MOVE_ZOOM_OUT},
    {"pull back", I2V_MOVE_ZOOM_OUT},
    {"pan left", I2V_MOVE_PAN_LEFT},
    {"pans left", I2V_MOVE_PAN_LEFT},
    {"pan right", I2V_MOVE_PAN_RIGHT},
    {"pan to the right", I2V_MOVE_PAN_RIGHT},
    {"pan to the left", I2V_MOVE_PAN_LEFT},
    {"pan across", I2V_MOVE_PAN_RIGHT},
    {"reveal", I2V_MOVE_CAMERA_PUSH_OUT},
    {"pans right", I2V_MOVE_PAN_RIGHT},
    {"pan up", I2V_MOVE_PAN_UP},
    {"tilt up", I2V_MOVE_PAN_UP},
    {"pan down", I2V_MOVE_PAN_DOWN},
    {"tilt down", I2V_MOVE_PAN_DOWN},
    {"push out", I2V_MOVE_CAMERA_PUSH_OUT},
    {"pull out", I2V_MOVE_CAMERA_PUSH_OUT},
};

int i2v_prompt_move(const char *prompt, i2v_move *move)
{
    const int m = i2v__phrase_first(prompt, moves, sizeof moves / sizeof moves[0], -1);
    if (m < 0) return 0;
    *move = (i2v_move)m;
    return 1;
}
