/* review.c - prompt word list, matched on whole normalised words. */
#include "review.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REVIEW_MAX_PHRASES 10000
#define REVIEW_MAX_BYTES (1u << 20)

struct i2v_review {
    char **phrase; /* normalised: lower-case words separated by one space */
    int count;
};

/* The built-in list: terms for sexual and violent content that the seed
 * services' reviews refuse. Operators replace it with --review-words. */
static const char builtin[] = "nude\nnudity\nnaked\nporn\npornographic\nexplicit sex\n"
                              "sexual\nerotic\nhentai\ngore\ngory\nbeheading\ndecapitation\n"
                              "massacre\nchild abuse\nterrorist attack\n";

/* Lower-case words of s joined by single spaces into out. */
static void normalise(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    int gap = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 2 < outlen; p++) {
        if (isalnum(*p) || *p >= 0x80) {
            if (gap && o) out[o++] = ' ';
            gap = 0;
            out[o++] = (char)tolower(*p);
        } else {
            gap = 1;
        }
    }
    out[o] = '\0';
}

i2v_review *i2v__review_from_text(const char *text)
{
    i2v_review *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->phrase = calloc(REVIEW_MAX_PHRASES, sizeof *r->phrase);
    if (!r->phrase) {
        free(r);
        return NULL;
    }
    const char *p = text;
    while (*p && r->count < REVIEW_MAX_PHRASES) {
        size_t n = strcspn(p, "\n");
        char line[512], norm[512];
        size_t l = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        normalise(line, norm, sizeof norm);
        if (norm[0]) r->phrase[r->count++] = strdup(norm);
        p += n;
        if (*p) p++;
    }
    return r;
}

i2v_review *i2v__review_load(const char *path, char *msg, size_t ml)
{
    if (!path || !*path) return i2v__review_from_text(builtin);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, ml, "review-words: cannot read %s", path);
        return NULL;
    }
    char *text = malloc(REVIEW_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, REVIEW_MAX_BYTES, f) : 0;
    fclose(f);
    if (!text) return NULL;
    text[n] = '\0';
    i2v_review *r = i2v__review_from_text(text);
    free(text);
    return r;
}

void i2v__review_free(i2v_review **rp)
{
    if (!rp || !*rp) return;
    for (int i = 0; i < (*rp)->count; i++)
        free((*rp)->phrase[i]);
    free((*rp)->phrase);
    free(*rp);
    *rp = NULL;
}

int i2v__review_count(const i2v_review *r)
{
    return r ? r->count : 0;
}

const char *i2v__review_check(const i2v_review *r, const char *prompt)
{
    if (!r || !prompt) return NULL;
    char norm[8192];
    normalise(prompt, norm, sizeof norm);
    const size_t nl = strlen(norm);
    for (int i = 0; i < r->count; i++) {
        const char *ph = r->phrase[i];
        const size_t pl = strlen(ph);
        for (const char *h = strstr(norm, ph); h; h = strstr(h + 1, ph)) {
            const int start = h == norm || h[-1] == ' ';
            const int end = (size_t)(h - norm) + pl == nl || h[pl] == ' ';
            if (start && end) return ph;
        }
    }
    return NULL;
}
