/* review.c - prompt word list, matched on whole normalised words. */
#include "review.h"

#include "i2v/i2v.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REVIEW_MAX_PHRASES 10000
#define REVIEW_MAX_BYTES (1u << 20)

struct i2v_review {
    char **phrase;  /* as listed, normalised: "red door" */
    char **pattern; /* what is searched for in i2v_prompt_words' output: " red door " */
    int count;
};

/* The built-in list: terms for sexual and violent content that the seed
 * services' reviews refuse. Operators replace it with --review-words. */
static const char builtin[] = "nude\nnudity\nnaked\nporn\npornographic\nexplicit sex\n"
                              "sexual\nerotic\nhentai\ngore\ngory\nbeheading\ndecapitation\n"
                              "massacre\nchild abuse\nterrorist attack\n";

i2v_review *i2v__review_from_text(const char *text)
{
    i2v_review *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->phrase = calloc(REVIEW_MAX_PHRASES, sizeof *r->phrase);
    r->pattern = calloc(REVIEW_MAX_PHRASES, sizeof *r->pattern);
    if (!r->phrase || !r->pattern) {
        free(r->phrase);
        free(r->pattern);
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
        i2v_prompt_words(line, norm, sizeof norm);
        const size_t nl = strlen(norm);
        if (nl > 1) {
            r->pattern[r->count] = strdup(norm);
            norm[nl - 1] = '\0';
            r->phrase[r->count++] = strdup(norm + 1);
        }
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
    for (int i = 0; i < (*rp)->count; i++) {
        free((*rp)->phrase[i]);
        free((*rp)->pattern[i]);
    }
    free((*rp)->phrase);
    free((*rp)->pattern);
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
    char words[4096];
    i2v_prompt_words(prompt, words, sizeof words);
    for (int i = 0; i < r->count; i++)
        if (strstr(words, r->pattern[i])) return r->phrase[i];
    return NULL;
}
